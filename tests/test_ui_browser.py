"""End to end in a real headless Chromium (Debian's, driven by Playwright): ask a seed question, see the cited
answer and its source card."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import ServedUI

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists() and not shutil.which("chromium"):
        pytest.skip("Debian chromium is not installed (/usr/bin/chromium); .ci/run installs it with apt-get")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed; run `make setup`")
    return CHROMIUM if CHROMIUM.exists() else Path(str(shutil.which("chromium")))


def test_a_seed_question_shows_a_cited_answer_and_its_source_card(
    served_ui: ServedUI, chromium: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(served_ui.url, wait_until="domcontentloaded")
            expect(page.locator("#qa-backend")).to_contain_text("embedded", timeout=60_000)
            page.locator("#qa-question textarea").fill("How many F-16s is the Netherlands sending?")
            page.locator("#qa-ask").click()

            answer = page.locator("#qa-chat .qa-answer").last
            expect(page.locator("#qa-chat .qa-meta")).to_have_count(1, timeout=120_000)
            expect(answer).to_contain_text("eighteen F-16s")
            marker = answer.locator("a.qa-cite").first
            expect(marker).to_have_text("[1]")
            card = page.locator("#qa-src-1-1")
            expect(card).to_contain_text("Ukraine expects more prisoner exchanges")
            expect(card.locator("mark")).to_contain_text("The Netherlands is sending eighteen F-16s")
            marker.click()  # an in-page link: the card is the target
            expect(card).to_be_in_viewport()
            page.screenshot(path=str(tmp_path / "ui-answer.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "ui-answer.png").stat().st_size > 10_000
