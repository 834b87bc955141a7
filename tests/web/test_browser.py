"""End to end in headless Chromium (Debian's package, driven by Playwright; never a
downloaded browser): a worker reports through the fake Telegram API, an officer logs in to
the dashboard, finds the case, replies, and the fake API receives the message to the worker.
Screenshots go to artifacts/screenshots/.

Without chromium or playwright these tests skip with the reason, except under CI=true,
where .ci/run installs both and a missing one is a failure.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.services import accounts
from tests.fakes.telegram_api import TelegramUser
from tests.fixtures.browser import SCREENSHOTS
from tests.scenarios import report_to_the_dairy_union
from tests.web.conftest import PASSWORD

STORY = "Quản lý nói <script>alert(1)</script> rồi trừ lương cả xưởng"

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


async def report_on_telegram(fake) -> None:
    """Worker 611 reports unpaid wages at the dairy, anonymously, on Telegram, to the dairy's
    own union."""
    worker = TelegramUser(fake, 611)
    await report_to_the_dairy_union(worker, STORY)
    await worker.press("Gửi")


async def test_an_officer_answers_a_telegram_report_from_the_dashboard(
    browser, start_bot, fake_telegram, sessions
):
    bot = await start_bot()
    async with sessions() as session:
        await accounts.add_officer(
            session, union_code="GR-SUACAONGUYEN", name="Trần Thị Bình", role="officer",
            now=datetime.now(UTC), login="binh", password=PASSWORD,
        )  # fmt: skip
        await session.commit()
    await report_on_telegram(fake_telegram)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.goto(f"{bot.url}/officer/login")
    await page.fill("input[name=login]", "binh")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("form.login button[type=submit]")
    await page.wait_for_url("**/officer/queue")
    row = page.locator("table.queue tbody tr")
    assert await row.count() == 1
    assert "KN-2026-000001" in await row.inner_text()
    await page.screenshot(path=str(SCREENSHOTS / "queue.png"), full_page=True)

    await page.click("text=KN-2026-000001")
    await page.wait_for_url("**/officer/case/KN-2026-000001")
    thread = await page.locator("ol.thread").inner_text()
    assert "<script>alert(1)</script>" in thread  # shown as text, not run
    assert dialogs == []
    await page.screenshot(path=str(SCREENSHOTS / "case.png"), full_page=True)

    sent_before = len(fake_telegram.sent())
    answer = "Chào bạn, công đoàn sẽ làm việc với công ty trong tuần này."
    await page.fill("form[action$='/reply'] textarea[name=text]", answer)
    await page.click("form[action$='/reply'] button[type=submit]")
    await page.wait_for_url("**?done=reply")
    await fake_telegram.wait_for("sendMessage", sent_before + 1)
    reply = fake_telegram.sent(611)[-1]
    assert reply["text"].endswith(answer)
    assert "Chào bạn" in await page.locator("ol.thread").inner_text()

    await page.click("text=Thống kê")
    await page.wait_for_url("**/officer/stats")
    await page.wait_for_selector("canvas")
    await page.screenshot(path=str(SCREENSHOTS / "statistics.png"), full_page=True)
