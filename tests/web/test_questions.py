"""Officers teach the bot on the dashboard: a question a worker asked in the web chat that the
bot could not answer is marked "this belongs to topic X", the bot retrains in the
background, and the same question is then answered, in this process and in another one
that only shares the database. Who may see and teach what, and a forged or bad lesson."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlalchemy import select

from bot.app import RUNTIME, create_app
from bot.services.knowledge import Knowledge
from bot.services.teaching import Tutor
from storage.models import AuditEntry, Lesson, UnansweredQuestion
from tests.fakes.webchat import Visitor
from tests.fixtures.browser import SCREENSHOTS
from tests.fixtures.running_bot import RunningBot, serve
from tests.web.conftest import PASSWORD, add_officers, log_in_browser

QUESTION = "Căng tin công ty nấu ăn dở quá, ai quản lý chuyện này"
TOPIC = "rights.dialogue"  # the canteen is a matter for dialogue at the workplace
TITLE = "Đối thoại tại nơi làm việc"
SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


async def ask(visitor: Visitor, text: str) -> str:
    """Say something in the web chat and read the bot's reply."""
    assert await visitor.say(text) == 202
    for _ in range(50):
        replies = await visitor.poll()
        if replies:
            return "\n".join(reply["text"] for reply in replies)
    raise AssertionError("no reply")


async def log_in(http: aiohttp.ClientSession, url: str, login: str) -> str:
    """Log in to the dashboard; the CSRF token of the session."""
    page = await (await http.get(f"{url}/officer/login")).text()
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    async with http.post(
        f"{url}/officer/login", data={"csrf": token, "login": login, "password": PASSWORD}
    ) as response:
        assert response.status == 200
    page = await (await http.get(f"{url}/officer/questions")).text()
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


@pytest.fixture
async def running(settings, sessions) -> AsyncIterator[tuple[RunningBot, Visitor]]:
    """The bot serving the web chat and the dashboard (officers binh and admin), and a worker
    who has asked QUESTION in the web chat and was not answered."""
    served = await serve(create_app(settings))
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as chat:
        try:
            async with sessions() as session:
                await add_officers(session)
                await session.commit()
            worker = Visitor(chat, served.url)
            await worker.open()
            assert TITLE not in await ask(worker, QUESTION)  # unsure: topics and an officer
            yield served, worker
        finally:
            await served.stop()


async def test_an_officer_teaches_a_question_and_the_bot_then_answers_it(running, sessions):
    served, worker = running
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as officer:
        csrf = await log_in(officer, served.url, "admin")
        page = await (await officer.get(f"{served.url}/officer/questions")).text()
        assert QUESTION in page
        async with sessions() as session:
            question = (await session.scalars(select(UnansweredQuestion))).one()
        taught = await officer.post(
            f"{served.url}/officer/questions/{question.id}/teach",
            data={"csrf": csrf, "topic": TOPIC},
        )
        assert taught.status == 200
        assert "Đã dạy" in await taught.text()
    tutor = served.app[RUNTIME].tutor
    await tutor.wake()  # the retraining the page started (or a look that finds it done)
    assert tutor.seen[0] == 1  # one lesson learnt
    assert TITLE in await ask(worker, QUESTION)

    async with sessions() as session:
        lesson = (await session.scalars(select(Lesson))).one()
        assert (lesson.text, lesson.topic) == (QUESTION, TOPIC)
        actions = [entry.action for entry in await session.scalars(select(AuditEntry))]
        assert "faq.taught" in actions
    # Another process on the same database learns it on its next look (the model it needs
    # is kept already: it is loaded, not trained again).
    elsewhere = Knowledge.load(served.app[RUNTIME].services.settings.content_dir)
    assert elsewhere.search(QUESTION, "vi").topic != TOPIC
    assert await Tutor(elsewhere, sessions).run_once()
    assert elsewhere.search(QUESTION, "vi").topic == TOPIC


async def test_officers_see_only_what_many_asked_and_bad_lessons_change_nothing(running, sessions):
    served, _worker = running
    async with sessions() as session:
        question_id = (await session.scalars(select(UnansweredQuestion))).one().id
    teach = f"{served.url}/officer/questions/{question_id}/teach"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as officer:
        # An officer of one union: a wording one person asked could tell who they are.
        csrf = await log_in(officer, served.url, "binh")
        page = await (await officer.get(f"{served.url}/officer/questions")).text()
        assert QUESTION not in page
        refused = await officer.post(teach, data={"csrf": csrf, "topic": TOPIC})
        assert refused.status == 404

        officer.cookie_jar.clear()
        csrf = await log_in(officer, served.url, "admin")
        forged = await officer.post(teach, data={"csrf": "forged", "topic": TOPIC})
        assert forged.status == 403
        unknown = await officer.post(teach, data={"csrf": csrf, "topic": "rights.nothing"})
        assert unknown.status == 400
        missing = await officer.post(
            f"{served.url}/officer/questions/99999/teach", data={"csrf": csrf, "topic": TOPIC}
        )
        assert missing.status == 404
    async with sessions() as session:
        assert await session.scalar(select(Lesson)) is None
        assert await session.scalar(select(UnansweredQuestion)) is not None


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_teaching_in_the_browser(browser, running, size):
    """The same loop with the officer in headless Chromium, on a desktop and a phone: the
    question listed with its suggestions, another topic chosen from the list, the notice,
    and then the worker's answer. Screenshots: artifacts/screenshots/questions-*.png."""
    served, worker = running
    page = await browser.new_page(viewport=SIZES[size])
    await log_in_browser(page, served.url, "admin")
    await page.click("nav a[href='/officer/questions']")
    question = page.locator("section.question", has_text=QUESTION)
    assert await question.locator("button[name=topic]").count() >= 2  # suggested, out
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"questions-{size}.png"))
    if size == "phone":
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await question.locator("select[name=topic]").select_option(TOPIC)
    await question.locator("button", has_text="Dạy bot").click()
    notice = page.locator("p.notice")
    await notice.wait_for()
    assert f"Đã dạy: “{QUESTION}”" in await notice.inner_text()
    assert await page.locator("section.question", has_text=QUESTION).count() == 0

    await served.app[RUNTIME].tutor.wake()
    assert TITLE in await ask(worker, QUESTION)
