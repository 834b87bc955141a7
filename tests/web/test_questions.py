"""Officers teach the bot on the dashboard: a question a worker asked in the web chat that the
bot could not answer is marked "this belongs to topic X", the bot retrains in the
background, and the same question is then answered, in this process and in another one
that only shares the database. Who may see and teach what, and a forged or bad lesson."""

from __future__ import annotations

import re

import aiohttp
from sqlalchemy import select

from bot.app import RUNTIME, create_app
from bot.services.knowledge import Knowledge
from bot.services.teaching import Tutor
from storage.models import AuditEntry, Lesson, UnansweredQuestion
from tests.channels.test_webchat import Visitor
from tests.fixtures.running_bot import serve
from tests.web.conftest import PASSWORD, add_officers

QUESTION = "Máy chấm công vân tay của xưởng hay bị lỗi thì tính sao"
TOPIC = "rights.working_hours"
TITLE = "Thời giờ làm việc"


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


async def test_an_officer_teaches_a_question_and_the_bot_then_answers_it(settings, sessions):
    served = await serve(create_app(settings))
    jar = aiohttp.CookieJar(unsafe=True)
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as chat,
        aiohttp.ClientSession(cookie_jar=jar) as officer,
    ):
        try:
            async with sessions() as session:
                await add_officers(session)
                await session.commit()
            worker = Visitor(chat, served.url)
            await worker.open()
            first = await ask(worker, QUESTION)
            assert TITLE not in first  # not answered (unsure: it offers topics and an officer)

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
            retraining = served.app[RUNTIME].tutor.wake()  # the one the page started
            assert await retraining or served.app[RUNTIME].tutor.seen[0] == 1

            again = await ask(worker, QUESTION)
            assert TITLE in again, again
        finally:
            await served.stop()

    async with sessions() as session:
        lesson = (await session.scalars(select(Lesson))).one()
        assert (lesson.text, lesson.topic) == (QUESTION, TOPIC)
        actions = [entry.action for entry in await session.scalars(select(AuditEntry))]
        assert "faq.taught" in actions
    # Another process on the same database learns it on its next look (the model it needs
    # is kept already: it is loaded, not trained again).
    elsewhere = Knowledge.load(settings.content_dir)
    assert elsewhere.search(QUESTION, "vi").topic != TOPIC
    assert await Tutor(elsewhere, sessions).run_once()
    assert elsewhere.search(QUESTION, "vi").topic == TOPIC


async def test_officers_see_only_what_many_asked_and_bad_lessons_change_nothing(settings, sessions):
    served = await serve(create_app(settings))
    async with (
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as chat,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as officer,
    ):
        try:
            async with sessions() as session:
                await add_officers(session)
                await session.commit()
            worker = Visitor(chat, served.url)
            await worker.open()
            await ask(worker, QUESTION)
            async with sessions() as session:
                question_id = (await session.scalars(select(UnansweredQuestion))).one().id
            teach = f"{served.url}/officer/questions/{question_id}/teach"

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
        finally:
            await served.stop()
    async with sessions() as session:
        assert await session.scalar(select(Lesson)) is None
        assert await session.scalar(select(UnansweredQuestion)) is not None
