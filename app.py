"""Start the web UI: index seeds/ when the index is empty, then serve on http://127.0.0.1:7860.

`python app.py [--host H] [--port P] [--index DIR | --chroma-url URL] [--no-seed]` is `qa serve` with the same
options (`qa serve --help`); QA_UI_HOST / QA_UI_PORT and every other QA_* setting apply too. Off loopback it asks
for QA_UI_USER / QA_UI_PASSWORD, and refuses to start without a password.
"""

from __future__ import annotations

import sys

from qa.cli.commands import main

if __name__ == "__main__":
    main(["serve", *sys.argv[1:]])
