"""The triage queue in headless Chromium with 60 open requests, on a desktop (1366 px) and a
phone (390 px): the overdue very urgent request first, claiming from the list, a bulk
resolve, the keyboard; how much of the queue the first screen shows on each.
Screenshots go to artifacts/screenshots/queue-*.png."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiohttp import web
from sqlalchemy import select

from bot.app import create_app
from storage.models import Case
from tests.fixtures.browser import SCREENSHOTS
from tests.fixtures.running_bot import serve
from tests.web.conftest import add_officers, log_in_browser, seed_queue

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


async def status_of(sessions, code: str) -> str:
    async with sessions() as session:
        return (await session.scalars(select(Case.status).where(Case.code == code))).one()


@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_an_officer_triages_sixty_requests(browser, settings, sessions, size):
    # The SLA watch must not escalate the seeded overdue requests away from binh's queue
    # while the page loads (its first round races the test on a busy machine).
    quiet = settings.with_(sla_grace_hours=24 * 365)
    bot = await serve(create_app(quiet))  # imports the sample directory on start
    try:
        async with sessions() as session:
            await add_officers(session)
            named = await seed_queue(session, 60, datetime.now(UTC))
            await session.commit()
        page = await browser.new_page(viewport=SIZES[size])
        await log_in_browser(page, bot.url, "binh")
        rows = page.locator("table.queue tbody tr")
        assert await rows.count() == 50  # a page of 50; "More" leads on
        assert await rows.nth(0).get_attribute("data-code") == named["urgent_overdue"]
        first = await rows.nth(0).inner_text()
        assert "Rất gấp" in first and "quá hạn" in first and "Sữa Cao Nguyên" in first
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / f"queue-{size}.png"), full_page=False)
        if size == "phone":
            # No sideways scrolling; a request is a card, several to a screen.
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390
            box = await rows.nth(1).bounding_box()
            assert box is not None and box["height"] < 220

        # Claim from the list: the row's own button.
        claimed = await rows.nth(0).get_attribute("data-code")
        await rows.nth(0).locator("form.claim button").click()
        await page.wait_for_url("**done=claim*")
        assert "Đã nhận 1 hồ sơ." in await page.locator("p.notice").inner_text()
        assert await status_of(sessions, claimed) == "assigned"

        # Tick two, resolve them together.
        picked = [await rows.nth(i).get_attribute("data-code") for i in (1, 2)]
        for i in (1, 2):
            await rows.nth(i).locator("input[type=checkbox]").check()
        await page.locator("#bulk button[value=close]").click()
        await page.wait_for_url("**done=close*")
        assert [await status_of(sessions, code) for code in picked] == ["resolved", "resolved"]

        # The keyboard: ? shows the help, j j moves to the second row, c claims it.
        await page.keyboard.press("?")
        assert await page.locator("#keys-help").is_visible()
        await page.keyboard.press("Escape")
        await page.keyboard.press("j")
        await page.keyboard.press("j")
        second = await page.locator("table.queue tbody tr.focused").get_attribute("data-code")
        assert second == await rows.nth(1).get_attribute("data-code")
        await page.keyboard.press("c")
        await page.wait_for_url("**done=claim*")
        assert await status_of(sessions, second) == "assigned"
        await page.keyboard.press("j")
        await page.keyboard.press("e")
        await page.wait_for_url("**done=close*")
        assert "Đã giải quyết xong 1 hồ sơ." in await page.locator("p.notice").inner_text()

        await page.goto(f"{bot.url}/officer/case/{named['urgent_later']}")
        await page.screenshot(path=str(SCREENSHOTS / f"case-{size}.png"), full_page=False)
        assert await page.locator("#reply textarea").is_visible() or size == "phone"
        if size == "phone":
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390
    finally:
        await bot.stop()
    assert isinstance(bot.app, web.Application)


FULLY_VISIBLE = """() => Array.from(document.querySelectorAll("table.queue tbody tr")).filter(
    (row) => { const box = row.getBoundingClientRect();
               return box.top >= 0 && box.bottom <= window.innerHeight; }).length"""


async def shown(page, selector: str) -> list[bool]:
    """Whether each element matching `selector` is visible."""
    found = page.locator(selector)
    return [await found.nth(i).is_visible() for i in range(await found.count())]


async def style_of(page, selector: str, prop: str) -> str:
    return await page.locator(selector).first.evaluate(
        f"(e) => getComputedStyle(e).getPropertyValue({prop!r})"
    )


async def open_queue(browser, bot, sessions, size: str):
    async with sessions() as session:
        await add_officers(session)
        await seed_queue(session, 60, datetime.now(UTC))
        await session.commit()
    page = await browser.new_page(viewport=SIZES[size])
    await log_in_browser(page, bot.url, "binh")
    return page


async def test_the_first_screen_of_a_phone_shows_several_requests(browser, settings, sessions):
    """390x844 with 60 requests: the navigation is one row, the filters and the bulk
    actions wait behind a tap, and at least three cards fit whole on the first screen."""
    bot = await serve(create_app(settings.with_(sla_grace_hours=24 * 365)))
    try:
        page = await open_queue(browser, bot, sessions, "phone")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / "queue-phone-first-screen.png"))
        visible = await page.evaluate(FULLY_VISIBLE)
        print(f"fully visible cards at 390x844: {visible}")
        assert visible >= 3
        nav = await page.locator("header nav").bounding_box()
        assert nav is not None and nav["height"] < 60  # one row, scrolled sideways
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390
        # The queue's own rows and badges, not the broadcast pages' boxes.
        assert await style_of(page, "table.queue .preview", "border-left-width") == "0px"
        assert await style_of(page, "table.queue .preview", "padding-top") == "0px"
        assert await style_of(page, "header nav .count", "border-left-width") == "0px"
        # Filters behind a toggle; the bulk actions once something is ticked.
        assert await shown(page, "form.filters select") == [False] * 4
        await page.locator("details.filtering summary").click()
        assert await shown(page, "form.filters select") == [True] * 4
        assert not await page.locator("#bulk").is_visible()
        await page.locator("table.queue tbody tr").nth(1).locator("input[type=checkbox]").check()
        assert await page.locator("#bulk button[value=close]").is_visible()
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390
        await page.screenshot(path=str(SCREENSHOTS / "queue-phone-ticked.png"))
    finally:
        await bot.stop()


async def test_the_desktop_still_shows_everything_at_once(browser, settings, sessions):
    """1366 px: the navigation on one line, the filters, the bulk bar with its hint and
    the keyboard button, the column headings; no toggle to open first."""
    bot = await serve(create_app(settings.with_(sla_grace_hours=24 * 365)))
    try:
        page = await open_queue(browser, bot, sessions, "desktop")
        print(f"fully visible rows at 1366x900: {await page.evaluate(FULLY_VISIBLE)}")
        links = page.locator("header nav a")
        tops = {(await links.nth(i).bounding_box() or {}).get("y") for i in range(10)}
        assert len(tops) == 1 and await shown(page, "header nav a") == [True] * 10
        assert (
            await shown(page, "form.filters select, form.filters input[type=search]") == [True] * 5
        )
        assert not await page.locator("details.filtering summary").is_visible()
        assert await shown(page, "#bulk .hint, #bulk button, #bulk select") == [True] * 7
        assert await page.locator("table.queue thead").is_visible()
        assert await style_of(page, "table.queue .preview", "border-left-width") == "0px"
        assert await style_of(page, "header nav .count", "border-left-width") == "0px"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / "queue-desktop-first-screen.png"))
    finally:
        await bot.stop()
