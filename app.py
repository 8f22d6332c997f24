"""Start the web UI: index seeds/ when the index is empty, then serve on http://127.0.0.1:7860.

`python app.py [--host H] [--port P] [--index DIR | --chroma-url URL] [--no-seed]`; QA_UI_HOST / QA_UI_PORT and
every other QA_* setting apply too. Off loopback it asks for QA_UI_USER / QA_UI_PASSWORD, and refuses to start
without a password.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError

from qa import Assistant, ConfigError, QAError, Settings
from qa.ui import build_app, launch
from qa.ui.access import ui_auth

ROOT = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> None:
    """Run the UI; a setting that cannot be used is one line on stderr and exit code 2, never a traceback."""
    try:
        serve(argv)
    except (ConfigError, ValidationError) as exc:
        print(f"Error: {_one_line(exc)}", file=sys.stderr)
        sys.exit(2)
    except QAError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(1)


def _one_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors())
        return f"{problems} (check your QA_* environment variables)"
    return str(exc)


def serve(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="newsqa web UI")
    parser.add_argument("--host", help="address to listen on (QA_UI_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (QA_UI_PORT, default 7860)")
    parser.add_argument("--index", type=Path, help="index directory (QA_INDEX_DIR)")
    parser.add_argument("--chroma-url", help="use the index on a Chroma server, http://host:port (QA_CHROMA_URL)")
    parser.add_argument("--no-seed", action="store_true", help="do not index seeds/ into an empty index")
    args = parser.parse_args(argv)
    if args.index and args.chroma_url:
        parser.error("--index and --chroma-url name two different indexes; give one of them")
    overrides: dict[str, object] = {}
    if args.index:
        overrides = {"index_dir": args.index, "chroma_url": None}  # a directory given here wins over QA_CHROMA_URL
    elif args.chroma_url:
        overrides = {"chroma_url": args.chroma_url}
    settings = Settings(**overrides)  # type: ignore[arg-type]
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
