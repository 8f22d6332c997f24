"""Screenshots of the web UI for the docs: `python benchmarks/ui_screenshots.py [OUT_DIR]` (default docs/).

Serves the UI on loopback over a fresh temporary index of seeds/ (without Ollama the bundled model
and the default mode answer), drives Debian's Chromium with Playwright and saves ui-answer.png (a cited
answer with its highlighted sources), ui-refusal.png and ui-library.png.
"""

from __future__ import annotations

import socket
import sys
import tempfile
from pathlib import Path

from qa import Assistant, Settings
from qa.ui import build_app, launch

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
ANSWERED = [
    "How many drones did Russia launch?",
    "and how many were shot down?",
    "How many Ukrainians were released from Russian captivity?",  # the quote highlighted in its passage
]
UPLOAD = """Title: Lviv opens a tram line
Date: 2024-02-10

The city of Lviv opened a new tram line on Saturday. The new tram line in Lviv has 14 stops.
"""
REFUSED = "How many tanks did Germany send?"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main(out: Path) -> None:
    from playwright.sync_api import Page, expect, sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="qa-shots-") as tmp:
        settings = Settings(index_dir=Path(tmp) / "index")
        assistant = Assistant(settings)
        assistant.ingest([ROOT / "seeds"])
        app = build_app(assistant, eval_set=ROOT / "evals" / "seeds.jsonl", eval_articles=ROOT / "seeds")
        port = free_port()
        launch(app, host="127.0.0.1", port=port, upload_max_mb=settings.upload_max_mb, prevent_thread_lock=True)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1100})

                def ask(page: Page, question: str, answers: int) -> None:
                    page.locator("#qa-question textarea").fill(question)
                    page.locator("#qa-ask").click()
                    expect(page.locator("#qa-chat .qa-meta")).to_have_count(answers, timeout=120_000)

                page.goto(f"http://127.0.0.1:{port}/")
                expect(page.locator("#qa-backend")).to_contain_text("embedded", timeout=60_000)
                for i, question in enumerate(ANSWERED, start=1):
                    ask(page, question, i)
                page.locator("#qa-chat a.qa-cite").last.hover()
                page.screenshot(path=str(out / "ui-answer.png"))

                page.goto(f"http://127.0.0.1:{port}/")
                expect(page.locator("#qa-backend")).to_contain_text("embedded", timeout=60_000)
                ask(page, REFUSED, 1)
                expect(page.locator("#qa-chat .qa-refusal")).to_have_count(1)
                page.screenshot(path=str(out / "ui-refusal.png"))

                page.get_by_role("tab", name="Library").click()
                expect(page.locator("#qa-articles")).to_contain_text("Ukraine expects more prisoner exchanges")
                article = Path(tmp) / "lviv-tram.txt"
                article.write_text(UPLOAD, encoding="utf-8")
                page.locator("#qa-upload input[type=file]").set_input_files(str(article))
                page.locator("#qa-add").click()
                expect(page.locator("#qa-upload-results")).to_contain_text("added", timeout=120_000)
                expect(page.locator("#qa-articles")).to_contain_text("Lviv opens a tram line")
                page.screenshot(path=str(out / "ui-library.png"), full_page=True)
                browser.close()
        finally:
            app.close()
    for name in ("ui-answer.png", "ui-refusal.png", "ui-library.png"):
        print(out / name)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs")
