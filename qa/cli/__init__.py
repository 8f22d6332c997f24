"""The command line: `qa ingest`, `qa ask`, `qa eval`, … (`qa` console script, `python -m qa.cli`)."""
