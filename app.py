"""Start the web UI: index seeds/ when the index is empty, then serve on http://127.0.0.1:7860.

`python app.py [--host H] [--port P] [--index DIR | --chroma-url URL] [--no-seed]`; QA_UI_HOST / QA_UI_PORT and
every other QA_* setting apply too. Off loopback it asks for QA_UI_USER / QA_UI_PASSWORD, and refuses to start
without a password.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from pydantic import ValidationError
from pydantic_settings import SettingsError

from qa import Assistant, ConfigError, QAError, Settings
from qa.settings import SettingsWarning, describe_settings_error, unknown_variables
from qa.ui import build_app, launch
from qa.ui.access import ui_auth

ROOT = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="newsqa web UI")
    parser.add_argument("--host", help="address to listen on (QA_UI_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (QA_UI_PORT, default 7860)")
    parser.add_argument("--index", help="index directory (QA_INDEX_DIR)")  # str: Path("") would be the cwd
    parser.add_argument("--chroma-url", help="use the index on a Chroma server, http://host:port (QA_CHROMA_URL)")
    parser.add_argument("--no-seed", action="store_true", help="do not index seeds/ into an empty index")
    args = parser.parse_args(argv)
    if args.index is not None and args.chroma_url:
        parser.error("--index and --chroma-url name two different indexes; give one of them")
    overrides: dict[str, object] = {}
    if args.index is not None:
        overrides = {"index_dir": args.index, "chroma_url": None}  # a directory given here wins over QA_CHROMA_URL
    elif args.chroma_url:
        overrides = {"chroma_url": args.chroma_url}
    for message in unknown_variables(os.environ):
        print(f"Warning: {message}", file=sys.stderr)
    warnings.simplefilter("ignore", SettingsWarning)
    try:
        serve(Settings(**overrides), args)  # type: ignore[arg-type]
    except (ValidationError, SettingsError) as exc:  # one line, as the CLI says it
        print(
            f"Error in settings: {describe_settings_error(exc)} (check your QA_* environment variables)",
            file=sys.stderr,
        )
        sys.exit(2)
    except ConfigError as exc:  # a setting that cannot be used, e.g. an open UI off loopback
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(2)
    except QAError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(1)


def serve(settings: Settings, args: argparse.Namespace) -> None:
    host = args.host or settings.ui_host
    auth = ui_auth(settings, host)  # before any indexing: an unusable setting stops the start at once
    assistant = Assistant(settings)
    if not args.no_seed and assistant.status(probe_backend=False).chunks == 0:
        print(f"Indexing {ROOT / 'seeds'} (first run)…", flush=True)
        report = assistant.ingest([ROOT / "seeds"])
        print(f"added {report.added} articles, {report.chunks} chunks", flush=True)
    app = build_app(assistant, eval_set=ROOT / "evals" / "seeds.jsonl", eval_articles=ROOT / "seeds")
    blocked = [settings.uploads] if settings.chroma_url else [settings.index_dir, settings.uploads]
    launch(
        app,
        host=host,
        port=args.port or settings.ui_port,
        upload_max_mb=settings.upload_max_mb,
        auth=auth,
        blocked_paths=blocked,
    )


if __name__ == "__main__":
    main()
