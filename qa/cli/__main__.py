"""`python -m qa.cli …`: the same commands as the `qa` console script."""

from qa.cli.commands import main

main()
