"""Logs never hold what a worker told the bot or who they are.

A representative day runs end to end through the real app against the fake messengers:
workers on Telegram and Zalo register, report anonymously, ask for support, erase their data,
an officer answers, a visitor uses the web chat, and forgers send what they should not. Every
log record of every logger is captured, with the app's logging set up at its most verbose
(bot/logs.py: DEBUG, third-party chatter at the level it sets), and none may contain a name,
the phone in any of its forms, the stories or three words in a row of them, or any person's
id on Telegram, Zalo or the web chat.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import aiohttp
import pytest
from sqlalchemy import select

from bot import logs
from bot.services import accounts
from storage.models import Person
from tests.fakes.messengers import ZALO_BASE, Messenger
from tests.fakes.telegram_api import TelegramUser
from tests.scenarios import report_to_the_dairy_union
from tests.support import TEST_VAULT

NAME = "Nguyễn Thị Hồng Nhung"
OFFICER_NAME = "Trương Quốc Bảo"
PHONE = "0912345678"
STORY = "Quản đốc bắt cả tổ ở kho lạnh số bảy ký giấy tăng ca không lương suốt mùa mưa"
HARDSHIP = "Con gái tôi bị sốt xuất huyết phải nằm viện Đức Trọng hai tuần liền"
OFFICER_ANSWER = "Chào bạn, tuần này công đoàn sẽ gặp quản đốc kho lạnh để làm rõ"
# Telegram people are numbers (their chat is their id); Zalo people ZALO_BASE + number.
MEMBER, SUPPORTED, OFFICER = 5550123401, 5550123402, 5550123499
REPORTER, ERASED = 71, 72


def three_words(text: str) -> list[str]:
    words = text.split()
    return [" ".join(words[i : i + 3]) for i in range(len(words) - 2)]


@pytest.fixture
def every_record() -> Iterator[list[logging.LogRecord]]:
    """Every log record of every logger, with logging as bot/logs.py sets it up for DEBUG;
    the levels it changes are put back afterwards."""
    root = logging.getLogger()
    named = [logging.getLogger(name) for name in (*logs.NOISY, "aiosqlite", "asyncio")]
    saved = [(logger, logger.level) for logger in (root, *named)]
    handlers = list(root.handlers)
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep(logging.DEBUG)
    logs.setup(logging.DEBUG)
    root.setLevel(logging.DEBUG)  # basicConfig does nothing where pytest added handlers
    root.addHandler(keep)
    try:
        yield records
    finally:
        root.handlers[:] = handlers  # and drop the one basicConfig adds when there is none
        for logger, level in saved:
            logger.setLevel(level)


def written(record: logging.LogRecord) -> str:
    """What a log handler would write of a record: its message, exception and stack."""
    text = record.getMessage()
    if record.exc_info:
        text += "\n" + logging.Formatter().formatException(record.exc_info)
    return "\n".join(part for part in (text, record.exc_text, record.stack_info) if part)


async def link_officer(sessions, telegram) -> TelegramUser:
    """An officer of the dairy's union (where the report goes), linked on Telegram."""
    async with sessions() as session:
        officer = await accounts.add_officer(
            session, union_code="GR-SUACAONGUYEN", name=OFFICER_NAME, role="officer",
            now=datetime.now(UTC),
        )  # fmt: skip
        code = accounts.invite(officer, TEST_VAULT, datetime.now(UTC)).code
        await session.commit()
    user = TelegramUser(telegram, OFFICER)
    await user.say(f"/canbo {code}")
    return user


async def register(worker) -> None:
    await worker.say("/start")
    await worker.press("Gia nhập công đoàn")
    await worker.press("Tôi đồng ý")
    await worker.say(NAME)
    await worker.say(PHONE)
    await worker.say("cty sua cao nguyen")
    await worker.press("Đúng rồi")
    await worker.press("Có, tôi có hợp đồng lao động")
    await worker.press("Bỏ qua")
    await worker.press("Gửi")
    assert worker.last().text.startswith("Cảm ơn bạn! Mình đã ghi nhận đăng ký.")


async def ask_for_support(worker) -> None:
    await worker.say("/start")
    await worker.press("Hỗ trợ khó khăn")
    await worker.press("Ốm đau, bệnh tật")
    await worker.press("Rất gấp (trong tuần này)")
    await worker.say(HARDSHIP)
    await worker.press("Xong, tiếp tục")
    await worker.press("Có, tôi là đoàn viên")
    await worker.say("hoa vien")
    await worker.press("Đúng rồi")
    await worker.press("Tôi đồng ý")
    await worker.say("+84 912 345 678")
    await worker.press("Gửi")
    assert worker.last().text.startswith("Mình đã nhận yêu cầu của bạn.")


async def forge(telegram, zalo) -> None:
    """What forgers and broken clients send, each carrying personal data."""
    assert (await telegram.deliver(telegram.text_update(MEMBER, NAME), secret="wrong"))[0] == 403
    event = zalo.text_event(str(ZALO_BASE + REPORTER), STORY)
    assert (await zalo.deliver(event, secret="not the OA's"))[0] == 403
    forged = telegram.button_update(MEMBER, f"f:membership:phone:{PHONE}")
    assert (await telegram.deliver(forged))[0] == 200
    malformed = {"update_id": 999_999, "message": {"text": NAME, "chat": PHONE, "from": MEMBER}}
    assert (await telegram.deliver(malformed))[0] in (200, 400)
    in_a_group = telegram.text_update(MEMBER, f"{NAME} {PHONE}", chat_type="group", chat_id=-5)
    assert (await telegram.deliver(in_a_group))[0] == 200
    tapped = zalo.text_event(str(ZALO_BASE + REPORTER), f"#f:grievance:story:{PHONE}")
    assert (await zalo.deliver(tapped))[0] == 200


async def troubles(member, reporter, telegram, zalo) -> None:
    """Sends that fail: refused by each messenger, then a worker who blocked the bot."""
    telegram.fail_next("sendMessage", 400, "Bad Request: chat not found")
    await member.say("/hoso")
    zalo.fail_next("cs", -201, "Parameter user_id is invalid")
    await reporter.say("/hoso")
    telegram.blocked.add(str(MEMBER))
    await member.say("/menu")


async def web_visitor(url: str, bot) -> str:
    """A visitor who writes their name and phone in the web chat; their cookie's id."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{url}/chat") as page:
            assert page.status == 200
        [cookie] = [c.value for c in http.cookie_jar if c.key == "unionbot_chat"]
        for number, body in enumerate(
            (
                {"text": f"Tôi là {NAME}, số {PHONE}, {HARDSHIP}"},
                {"button": "menu:home"},
                {"button": f"f:support:phone:{PHONE}"},
            )
        ):
            message = {"id": f"0b8e2b8e-3f7e-4c59-9d8a-6b0f6b7f8a9{number}", **body}
            async with http.post(f"{url}/chat/send", json=message) as sent:
                assert sent.status == 202
        await bot.runtime.settle()
    return cookie.split(".")[0]


async def test_no_log_record_holds_personal_data(
    every_record, start_bot, fake_telegram, fake_zalo, sessions
):
    telegram = Messenger("telegram", start_bot, fake_telegram, fake_zalo)
    zalo = Messenger("zalo", start_bot, fake_telegram, fake_zalo)
    zalo.bot = bot = await telegram.start()
    officer = await link_officer(sessions, fake_telegram)

    await register(telegram.worker(MEMBER))
    reporter = zalo.worker(REPORTER)
    await report_to_the_dairy_union(reporter, STORY)
    await reporter.press("Gửi")
    assert reporter.last().text.startswith("Mình đã nhận phản ánh của bạn.")
    await officer.press("Trả lời")
    await officer.say(OFFICER_ANSWER, replies=1)
    await ask_for_support(telegram.worker(SUPPORTED))
    erased = zalo.worker(ERASED)
    await erased.say(f"Chào, mình là {NAME}, số mình 84912345678")
    await erased.say("/xoadulieu")
    await erased.press("Xoá dữ liệu của tôi")
    await forge(fake_telegram, fake_zalo)
    await troubles(telegram.worker(MEMBER), reporter, fake_telegram, fake_zalo)
    visitor = await web_visitor(bot.url, bot)
    await bot.runtime.settle()
    async with sessions() as session:
        web_people = (
            await session.scalars(select(Person.channel_user_id).where(Person.channel == "web"))
        ).all()
    await bot.stop()  # what is logged on the way out counts too

    secrets = {
        NAME, OFFICER_NAME, PHONE, PHONE[1:], "+84" + PHONE[1:], STORY, HARDSHIP, OFFICER_ANSWER,
        *three_words(STORY), *three_words(HARDSHIP), *three_words(OFFICER_ANSWER),
        *(str(number) for number in (MEMBER, SUPPORTED, OFFICER)),
        *(str(ZALO_BASE + number) for number in (REPORTER, ERASED)),
        visitor, *web_people,
    }  # fmt: skip
    assert len(web_people) == 1
    # The capture works: the bot's own lines are there (it logs the group message it ignored).
    assert any(record.name.startswith("bot.channels.") for record in every_record)
    leaks: dict[tuple[str, str], str] = {}  # (logger, secret) -> the first line with it
    for record in every_record:
        text = written(record)
        for secret in secrets:
            if secret in text:
                leaks.setdefault((record.name, secret), re.sub(r"\s+", " ", text)[:300])
    found = [f"{name} {secret!r}: {line}" for (name, secret), line in leaks.items()]
    assert not found, "\n".join(found)
