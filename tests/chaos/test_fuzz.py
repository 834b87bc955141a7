"""Hostile input, property-based: whatever a messenger, a forger or a worker sends, the bot
stays within its contract and never crashes.

1. A stored Telegram update or Zalo event becomes an Incoming or nothing, never an exception:
   random JSON-ish values and valid payloads mutated (fields dropped, types swapped, ids past
   2^63, huge strings, NUL, emoji, RTL marks, lone surrogates).
2. The webhooks over HTTP through the real app: 2xx or 4xx, never 5xx; a wrong secret or
   signature stores nothing; a malformed update does not stop later ones being answered.
3. The forms and the search through the dispatcher: no exception; a refused message (a forged
   button, over-long text) changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import hashlib
import io
import itertools
import json
import operator
import string
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot import cli
from bot.channels.telegram import TelegramChannel
from bot.channels.terminal import TerminalChannel
from bot.channels.zalo import ZaloChannel, ZaloTokens
from bot.config import CONTENT_DIR, Settings
from bot.dispatch import valid_payload
from bot.services.i18n import Catalogs
from handlers import faq
from handlers.types import JOINED, LEFT, MAX_TEXT, Attachment, Incoming
from storage import db
from storage.models import Case, Conversation, InboxItem, Person
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.zalo_api import FakeZalo
from tests.fixtures.running_bot import WEBHOOK_SECRET
from tests.handlers.conftest import NOW, buttons
from tests.support import TEST_VAULT, count, shared_knowledge

PAYLOADS = Path(__file__).resolve().parents[1] / "payloads" / "zalo"
RECORDED = [
    json.loads(path.read_text(encoding="utf-8"))
    for path in sorted(PAYLOADS.glob("*.json"))
    if path.name != "signature_vectors.json"
]
# The refusals of a stale button and of an over-long message, in Vietnamese or, after a
# shown "Language" button was pressed, English.
STALE = (
    "Nút này không còn dùng được. Bạn chọn lại giúp mình nhé.",
    "That button no longer works. Please choose again.",
)
TOO_LONG = ("Tin nhắn của bạn dài quá", "Your message is too long")
# What fits the people and outbox tables (String(64)) and the inbox's external id.
ID_LIMIT = 64
EXTERNAL_ID_LIMIT = 100

# -- what a hostile sender puts in a field ----------------------------------------------------

NASTY = [
    "", " ", "\x00", "a\x00b", "x" * 100_000, "😀🙏🏽👨‍👩‍👧", "\u202eقناة\u202c",
    "\u200f\u200e\ufeff", "e" + "\u0301\u0302\u0303\u0323" * 40, "\ud800", "\udfff x",
    "²", "١٢٣", "42", "-7", "9" * 30, "0" * 5000 + "1", "#menu:home",
    "#f:membership:consent:yes", "NaN", "null",
]  # fmt: skip
NASTY_TEXT = st.sampled_from(NASTY) | st.text(max_size=40)
BIG_INTS = st.sampled_from(
    [0, -1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30, 10**300]
)
SCALARS = (
    st.none() | st.booleans() | BIG_INTS | st.integers() | st.floats(allow_nan=False) | NASTY_TEXT
)
KEYS = st.sampled_from(
    [
        "update_id", "message", "callback_query", "my_chat_member", "edited_message", "from",
        "chat", "id", "type", "text", "data", "date", "is_bot", "first_name", "language_code",
        "photo", "document", "file_id", "file_size", "app_id", "event_name", "sender",
        "follower", "recipient", "timestamp", "msg_id", "attachments", "payload", "url",
        "size", "numbered",
    ]
) | st.text(max_size=10)  # fmt: skip
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=10,
)


def _places(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place inside a JSON value: the keys of its objects, the indexes of its lists."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, inner in items:
        yield (*prefix, key)
        yield from _places(inner, (*prefix, key))


def _swapped(value: Any) -> Any:
    """The same value in the type a careless sender would use: an id as text or as a number,
    a text in a list, an object as a list."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return int(value) if value.isascii() and value.isdigit() and len(value) < 400 else [value]
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    return ""


def _variants(value: Any) -> list[Any]:
    """Hostile variants of a field's own value: too big, of another type, nearly right."""
    common = [None, [], {}, [[value]], "", "\x00", "\ud800", "²", "x" * 100_000, 2**63, 10**30]
    if isinstance(value, bool):
        return [*common, int(value), str(value).lower()]
    if isinstance(value, int):
        return [*common, str(value), float(value), -value, value * 10**20, True]
    if isinstance(value, str):
        return [
            *common, value * 500, value + "\x00", "\u202e" + value, value + "\u0301" * 30,
            "9" * 25, "0" * 5000 + "1", "١٢٣", value.upper(), f"{value}😀",
            *([int(value)] if value.isascii() and value.isdigit() and len(value) < 400 else []),
        ]  # fmt: skip
    return common


@st.composite
def mutated(draw: st.DrawFn, valid: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    """A valid payload with one to four of its fields dropped, replaced or retyped."""
    payload = copy.deepcopy(draw(valid))
    for _ in range(draw(st.integers(1, 4))):
        places = list(_places(payload))
        if not places:
            break
        place = draw(st.sampled_from(places))
        parent: Any = payload
        for key in place[:-1]:
            parent = parent[key]
        key = place[-1]
        how = draw(st.sampled_from(["drop", "replace", "swap", "nest", "variant", "variant"]))
        if how == "drop":
            del parent[key]
        elif how == "replace":
            parent[key] = draw(SCALARS | JSONISH)
        elif how == "swap":
            parent[key] = _swapped(parent[key])
        elif how == "nest":
            parent[key] = [[parent[key]]]
        else:
            parent[key] = draw(st.sampled_from(_variants(parent[key])))
    return payload


# -- valid payloads, as the fakes build them ---------------------------------------------------

TELEGRAM = FakeTelegram()
ZALO = FakeZalo()
FILES = {kind: TELEGRAM.add_file(b"%PDF-1.7 " + kind.encode()) for kind in ("photo", "pdf", "ogg")}
TELEGRAM_IDS = st.integers(1, 2**40) | st.just(2**53 + 1)
ZALO_IDS = st.integers(10**18, 9 * 10**18).map(str)
BUTTON_DATA = st.sampled_from(["menu:home", "join:start", "f:membership:consent:yes"]) | st.text(
    max_size=70
)
VALID_TELEGRAM = st.one_of(
    st.builds(TELEGRAM.text_update, TELEGRAM_IDS, NASTY_TEXT),
    st.builds(TELEGRAM.button_update, TELEGRAM_IDS, BUTTON_DATA),
    st.builds(TELEGRAM.member_update, TELEGRAM_IDS, st.sampled_from(["kicked", "member"])),
    st.builds(lambda user: TELEGRAM.photo_update(user, FILES["photo"]), TELEGRAM_IDS),
    st.builds(
        lambda user: TELEGRAM.document_update(user, FILES["pdf"], "application/pdf"), TELEGRAM_IDS
    ),
    st.builds(lambda user: TELEGRAM.voice_update(user, FILES["ogg"]), TELEGRAM_IDS),
    st.builds(
        lambda u: TELEGRAM.text_update(u, "hi", chat_type="group", chat_id=-42), TELEGRAM_IDS
    ),
    st.builds(lambda u: TELEGRAM.button_update(u, "o:claim:1", chat_id=-42), TELEGRAM_IDS),
)
VALID_ZALO = st.one_of(
    st.builds(ZALO.text_event, ZALO_IDS, NASTY_TEXT),
    st.builds(ZALO.text_event, ZALO_IDS, st.sampled_from(["#menu:home", "#f:x:y:z", "1", "#2"])),
    st.builds(lambda user: ZALO.image_event(user, "https://z.example/a.jpg"), ZALO_IDS),
    st.builds(lambda user: ZALO.file_event(user, "https://z.example/b.pdf"), ZALO_IDS),
    st.builds(lambda user: ZALO.audio_event(user, "https://z.example/c.amr"), ZALO_IDS),
    st.builds(ZALO.sticker_event, ZALO_IDS),
    st.builds(ZALO.location_event, ZALO_IDS),
    st.builds(ZALO.follow_event, ZALO_IDS),
    st.builds(ZALO.unfollow_event, ZALO_IDS),
    st.builds(ZALO.oa_echo_event, ZALO_IDS, st.just("xin chào")),
    st.sampled_from(RECORDED).map(copy.deepcopy),
)
CATALOGS = Catalogs(CONTENT_DIR / "locales")
EXAMPLES = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


# -- 1. stored payloads -> Incoming -------------------------------------------------------------


def assert_usable(msg: Incoming | None, channel: str) -> None:
    """What the dispatcher may rely on in an Incoming: ids that are text and fit their
    columns, every optional field of its declared type."""
    if msg is None:
        return
    assert isinstance(msg, Incoming) and msg.channel == channel
    for value in (msg.user_id, msg.chat_id):
        assert isinstance(value, str) and 0 < len(value) <= ID_LIMIT, value[:80]
        assert value.isprintable() and value.encode()
    assert isinstance(msg.external_id, str) and len(msg.external_id) <= EXTERNAL_ID_LIMIT
    for optional in (msg.text, msg.payload, msg.locale, msg.ack, msg.numbered):
        assert optional is None or (isinstance(optional, str) and _encodable(optional))
    assert msg.event in (None, JOINED, LEFT)
    assert msg.sent_at is None or (
        isinstance(msg.sent_at, datetime) and msg.sent_at.tzinfo is not None
    )
    assert isinstance(msg.attachments, tuple)
    for attachment in msg.attachments:
        assert isinstance(attachment, Attachment) and isinstance(attachment.kind, str)
        assert attachment.reference is None or isinstance(attachment.reference, str)
        assert attachment.size is None or (type(attachment.size) is int and attachment.size >= 0)
        assert attachment.mime is None or isinstance(attachment.mime, str)


def _undecodable(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


@pytest.fixture
async def telegram_channel(tmp_path: Path) -> AsyncIterator[TelegramChannel]:
    """The Telegram channel as the app builds it, never started (parsing needs no network)."""
    env = {"DATABASE_URL": "sqlite+aiosqlite:///unused.db", "TELEGRAM_BOT_TOKEN": TELEGRAM.token}
    config = Settings.from_env(env, cwd=tmp_path)
    async with aiohttp.ClientSession() as http:
        yield TelegramChannel(config, http, inbox=None)  # type: ignore[arg-type]


@pytest.fixture
async def zalo_channel(tmp_path: Path) -> AsyncIterator[ZaloChannel]:
    """The Zalo channel as the app builds it, never started: its database is never opened."""
    env = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
        "ZALO_APP_ID": ZALO.app_id,
        "ZALO_OA_SECRET_KEY": ZALO.oa_secret,
    }
    config = Settings.from_env(env, cwd=tmp_path)
    database = db.Database.open(config.database_url)

    async def nobody(_ids: object) -> dict[str, Any]:
        return {}

    async def ignore(_reason: str) -> None:
        return None

    async with aiohttp.ClientSession() as http:
        tokens = ZaloTokens(
            config, http, database, seal=TEST_VAULT.seal, reveal=TEST_VAULT.open, on_broken=ignore
        )
        yield ZaloChannel(
            config, http, None, database, tokens,  # type: ignore[arg-type]
            seal=TEST_VAULT.seal, reveal=TEST_VAULT.open, tag=TEST_VAULT.tag, recipients=nobody,
            number_hint=lambda _language: "", clock=lambda: NOW,
        )  # fmt: skip
    await database.close()


@settings(max_examples=1000, **EXAMPLES)
@given(payload=mutated(VALID_TELEGRAM) | VALID_TELEGRAM | st.dictionaries(KEYS, JSONISH))
async def test_any_stored_telegram_update_is_an_incoming_or_nothing(telegram_channel, payload):
    assert_usable(telegram_channel.to_incoming(payload), "telegram")


@settings(max_examples=1000, **EXAMPLES)
@given(payload=mutated(VALID_ZALO) | VALID_ZALO | st.dictionaries(KEYS, JSONISH))
async def test_any_stored_zalo_event_is_an_incoming_or_nothing(zalo_channel, payload):
    assert_usable(zalo_channel.to_incoming(payload), "zalo")


@settings(max_examples=200, deadline=None)
@given(line=NASTY_TEXT | st.text(max_size=100) | st.binary(max_size=40).map(_undecodable))
def test_any_line_typed_in_the_terminal_is_an_incoming(line):
    """`unionbot chat` reads stdin, which in a C locale hands bytes that are not UTF-8 over
    as lone surrogates."""
    terminal = TerminalChannel("lan", out=io.StringIO())
    msg = terminal.to_incoming(terminal.update_for(line + "\n").payload)
    assert msg is not None
    assert_usable(msg, "terminal")


async def test_valid_payloads_still_become_what_the_bot_handles(telegram_channel, zalo_channel):
    """The property above holds trivially for a parser that returns None: these must not."""
    text = telegram_channel.to_incoming(TELEGRAM.text_update(2**53 + 1, "xin chào"))
    assert (text.user_id, text.chat_id, text.text) == (str(2**53 + 1), str(2**53 + 1), "xin chào")
    update = TELEGRAM.button_update(42, "menu:home")
    press = telegram_channel.to_incoming(update)
    assert (press.user_id, press.payload) == ("42", "menu:home")
    assert press.ack == update["callback_query"]["id"]
    left = telegram_channel.to_incoming(TELEGRAM.member_update(42, "kicked"))
    assert left.event == LEFT
    photo = telegram_channel.to_incoming(TELEGRAM.photo_update(42, FILES["photo"]))
    assert photo.attachments[0].reference == FILES["photo"]
    user = "2468458835296197922"
    typed = zalo_channel.to_incoming(ZALO.text_event(user, "chào"))
    assert (typed.user_id, typed.text, typed.sent_at is not None) == (user, "chào", True)
    tapped = zalo_channel.to_incoming(ZALO.text_event(user, "#menu:home"))
    assert tapped.payload == "menu:home"
    assert zalo_channel.to_incoming(ZALO.follow_event(user)).event == JOINED
    document = zalo_channel.to_incoming(ZALO.file_event(user, "https://z.example/b.pdf"))
    assert document.attachments[0].mime == "application/pdf"


# -- 2. the webhooks over HTTP -----------------------------------------------------------------

OVER_LIMIT = 1024 * 1024 + 1  # bot/app.py takes bodies up to 1 MB
MESSAGE = (
    b'"message_id": 1, "date": 1, "chat": {"id": 5, "type": "private"}, '
    b'"from": {"id": 5, "is_bot": false, "first_name": "A"}'
)
# Bodies a JSON parser, a database or a signature check each find hard in their own way.
ODD_BODIES = [
    b"", b"{", b"[]", b"null", b"{}", b"NaN", b"\xff\xfe{}", b"1" + b"0" * 5000,
    b"[" * 50_000 + b"]" * 50_000, b'{"update_id": NaN}',
    b'{"update_id": 1e400}', b'{"update_id": 18446744073709551616}',
    b'{"update_id": ' + b"9" * 120 + b"}", b'{"update_id": 7, "edited_message": NaN}',
    b'{"update_id": 8, "edited_message": "\\ud800"}',
    b'{"update_id": 9, "message": {' + MESSAGE + b', "text": "a\\ud800b"}}',
    b'{"update_id": 10, "message": {' + MESSAGE + b', "text": "x", "extra": Infinity}}',
    b'{"update_id": 11, "message": {' + MESSAGE.replace(b'"id": 5', b'"id": "5"') + b"}}",
    b'{"update_id": 12, "callback_query": {"id": "q", "data": "menu:home"}}',
    b'{"app_id": "\\ud800", "timestamp": "1"}',
    b'{"app_id": "' + ZALO.app_id.encode() + b'", "timestamp": "\xc2\xb2"}',
    b'{"app_id": "' + ZALO.app_id.encode() + b'", "timestamp": "' + b"1" * 5000 + b'"}',
]  # fmt: skip


def _json(value: Any) -> bytes:
    """As a careless client sends it: lone surrogates escaped, NaN as NaN."""
    return json.dumps(value).encode()


def _bodies(valid: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=200),
        st.text(max_size=100).map(str.encode),
        st.sampled_from(ODD_BODIES),
        JSONISH.map(_json),
        valid.map(_json),
        mutated(valid).map(_json),
        mutated(valid).map(_json),
    )


HEADER_TEXT = st.text(alphabet=string.ascii_letters + string.digits + "-_.=:", max_size=80)
TELEGRAM_SECRETS = (
    st.sampled_from(
        [WEBHOOK_SECRET, WEBHOOK_SECRET, "", "wrong", WEBHOOK_SECRET + "x", WEBHOOK_SECRET[:-1]]
    )
    | HEADER_TEXT
)
# How a Zalo event is signed: right, not at all, with another secret, with made-up values.
ZALO_SIGNING = st.sampled_from(["right", "right", "none", "other secret", "garbage"])
FRESH = itertools.count(1)


@pytest.fixture
async def running(start_bot):
    """The app with its Telegram webhook and Zalo on, against the fakes."""
    return await start_bot(zalo=True)


async def _until(found: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := found()):
        assert time.monotonic() < deadline, "the bot did not answer"
        await asyncio.sleep(0.02)
    return result


async def _telegram_still_answers(fake: FakeTelegram) -> None:
    """A worker who writes now is answered: nothing before them stopped the bot."""
    user = 8_000_000 + next(FRESH)
    update = fake.text_update(user, "/start")
    # Past any id the payloads built for the examples use: a redelivery would be dropped.
    update["update_id"] = 2_000_000_000 + user
    status, _text = await fake.deliver(update)
    assert status == 200
    await _until(lambda: fake.sent(user))


async def _failed_updates(sessions: db.Sessions) -> int:
    """Stored updates whose handling raised (each is tried again, then apologised for)."""
    return await count(sessions, InboxItem, InboxItem.error.is_not(None))


async def _zalo_still_answers(fake: FakeZalo) -> None:
    user = str(3_000_000_000_000_000_000 + next(FRESH))
    status, _text = await fake.deliver(fake.text_event(user, "/start"))
    assert status == 200
    await _until(lambda: fake.sent(user))


@settings(max_examples=30, **EXAMPLES)
@given(requests=st.lists(st.tuples(_bodies(VALID_TELEGRAM), TELEGRAM_SECRETS), max_size=4))
async def test_the_telegram_webhook_never_fails_and_a_wrong_secret_stores_nothing(
    running, fake_telegram, sessions, requests
):
    for body, secret in requests:
        before = await count(sessions, InboxItem)
        status, text = await fake_telegram.deliver(body, secret=secret)
        assert 200 <= status < 500, text
        if secret != WEBHOOK_SECRET:
            assert status >= 400  # 403, or 413 when the body is over the limit as well
        if status >= 400:
            assert await count(sessions, InboxItem) == before
    await _telegram_still_answers(fake_telegram)
    assert await _failed_updates(sessions) == 0


def _zalo_signature(fake: FakeZalo, body: bytes, signing: str) -> str:
    """The X-ZEvent-Signature header: right (over the app_id and timestamp the body claims,
    as Zalo computes it, whatever they hold), none, with another secret, or made up."""
    try:
        claimed = json.loads(body)
    except (ValueError, RecursionError):
        claimed = None
    claimed = claimed if isinstance(claimed, dict) else {}
    app_id, stamp = (str(claimed.get(key, "")) for key in ("app_id", "timestamp"))
    secret = {"right": fake.oa_secret, "other secret": fake.oa_secret + "x"}.get(signing)
    if secret is None:
        return "" if signing == "none" else "mac=" + "0" * 64
    head, tail = (text.encode("utf-8", "surrogatepass") for text in (app_id, stamp + secret))
    return "mac=" + hashlib.sha256(head + body + tail).hexdigest()


@settings(max_examples=30, **EXAMPLES)
@given(requests=st.lists(st.tuples(_bodies(VALID_ZALO), ZALO_SIGNING), max_size=4))
async def test_the_zalo_webhook_never_fails_and_a_wrong_signature_stores_nothing(
    running, fake_zalo, sessions, requests
):
    for body, signing in requests:
        before = await count(sessions, InboxItem)
        signature = _zalo_signature(fake_zalo, body, signing)
        status, text = await fake_zalo.deliver(body, signature=signature)
        assert 200 <= status < 500, text
        if signing != "right":
            assert status >= 400
        if status >= 400:
            assert await count(sessions, InboxItem) == before
    await _zalo_still_answers(fake_zalo)
    assert await _failed_updates(sessions) == 0


async def test_odd_bodies_with_the_right_secret_or_signature_are_refused_or_stored(
    running, fake_telegram, fake_zalo, sessions
):
    """Each one, signed as the messenger would sign it: a clear 4xx or stored, never a 5xx
    (a 5xx makes the messenger send it again and again)."""
    for body in [*ODD_BODIES, b"x" * OVER_LIMIT]:
        status, text = await fake_telegram.deliver(body)
        assert status < 500, (body[:80], text)
        signature = _zalo_signature(fake_zalo, body, "right")
        status, text = await fake_zalo.deliver(body, signature=signature)
        assert status < 500, (body[:80], text)
    await _telegram_still_answers(fake_telegram)
    await _zalo_still_answers(fake_zalo)
    assert await _failed_updates(sessions) == 0


async def test_over_long_text_from_either_messenger_is_refused_with_a_reply(
    running, fake_telegram, fake_zalo
):
    text = "Công ty nợ lương. " * 300  # 5,400 characters
    user = 8_100_000
    assert (await fake_telegram.deliver(fake_telegram.text_update(user, text)))[0] == 200
    [reply] = await _until(lambda: fake_telegram.sent(user))
    assert reply["text"].startswith(TOO_LONG[0])
    zalo_user = "3100000000000000001"
    assert (await fake_zalo.deliver(fake_zalo.text_event(zalo_user, text)))[0] == 200
    [message] = await _until(lambda: fake_zalo.sent(zalo_user))
    assert fake_zalo.text_of(message).startswith(TOO_LONG[0])


async def _raw_post(url: str, path: str, header: bytes, body: bytes) -> int:
    """A POST whose header carries bytes no client library would send."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST " + path.encode() + b" HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
        + header + b"\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
    )  # fmt: skip
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return int(status_line.split()[1])


async def test_a_header_of_undecodable_bytes_is_refused(running, fake_telegram, fake_zalo):
    update = _json(fake_telegram.text_update(8_200_000, "/start"))
    header = b"X-Telegram-Bot-Api-Secret-Token: " + WEBHOOK_SECRET.encode() + b"\xff\xfe"
    assert await _raw_post(running.url, "/telegram/webhook", header, update) == 403
    event = _json(fake_zalo.text_event("3200000000000000001", "/start"))
    header = b"X-ZEvent-Signature: mac=\xff\xfe"
    assert await _raw_post(running.url, "/zalo/webhook", header, event) == 403


# -- 3. forms and search through the dispatcher ------------------------------------------------


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


# How each form is started by a worker: its menu button, then consent where it asks first.
FORM_STARTS = {
    "membership": ("join:start", "f:membership:consent:yes"),
    "grievance": ("report:start",),
    "support": ("support:start",),
}
STEPS = [
    "consent", "review", "edit", "name", "phone", "workplace", "story", "category", "when",
    "people", "evidence", "anonymous", "recipient", "contract", "urgency", "member",
]  # fmt: skip
PAYLOAD_TEXT = st.text(alphabet=string.ascii_letters + string.digits + "-_.:", max_size=12)
FORGED = st.one_of(
    st.builds(
        "f:{}:{}:{}".format, st.sampled_from(sorted(FORM_STARTS)), st.sampled_from(STEPS),
        st.sampled_from(["-back", "-skip", "-cancel", "-resume", "send", "change", "yes"])
        | PAYLOAD_TEXT,
    ),
    st.from_regex(r"[a-z]{1,8}:[A-Za-z0-9_.:-]{0,50}", fullmatch=True),
    st.text(max_size=70),
    st.sampled_from(["join:new", "report:new", "support:start", "o:claim:1", "menu:home", "f:"]),
)  # fmt: skip
# Answers a worker would plausibly type somewhere in a form.
LIKELY = [
    "0912345678", "cty sua cao nguyen", "huỷ", "huy", "có", "không", "/huy", "/start",
    "Nguyễn Văn An", "Công ty nợ lương hai tháng", "xong", "1", "#2",
]  # fmt: skip
LONG = st.builds(
    operator.mul, st.sampled_from(["a", "ệ", "😀", " ", "a\n"]), st.integers(2049, 4200)
)
ANSWERS = st.one_of(
    # Lone surrogates never reach the dispatcher: every channel keeps them out (part 1).
    st.tuples(st.just("say"), st.sampled_from([t for t in NASTY if _encodable(t)])),
    st.tuples(st.just("say"), st.text(max_size=200)),
    st.tuples(st.just("say"), st.sampled_from(LIKELY)),
    st.tuples(st.just("say"), LONG),
    st.tuples(st.just("shown"), st.integers(0, 30)),
    st.tuples(st.just("shown"), st.integers(0, 30)),
    st.tuples(st.just("forged"), FORGED),
)
PEOPLE = itertools.count()


async def _everything(database: db.Database) -> list[list[Any]]:
    """The people, cases and conversations tables, row by row as stored."""
    tables = []
    async with database.sessions() as session:
        for model in (Person, Case, Conversation):
            tables.append(list((await session.execute(select(model.__table__))).all()))
    return tables


def _shown(worker: Any, index: int) -> str | None:
    """The payload of a button under the bot's last replies, as the worker could press it."""
    shown = [payload for reply in worker.last for payload in buttons(reply)]
    return shown[index % len(shown)] if shown else None


@settings(max_examples=60, **EXAMPLES)
@given(form=st.sampled_from(sorted(FORM_STARTS)), answers=st.lists(ANSWERS, max_size=10))
async def test_any_answers_in_a_form_get_a_reply_and_a_refusal_changes_nothing(
    talk, database, form, answers
):
    worker = talk(f"chaos{next(PEOPLE)}")  # a new person each time: the flood guard counts
    await worker.say("/start")
    for payload in FORM_STARTS[form]:
        await worker.press_payload(payload)
    for kind, value in answers:
        payload = _shown(worker, value) if kind == "shown" else value
        if payload is None:
            continue
        before = await _everything(database)
        replies = await (worker.say(value) if kind == "say" else worker.press_payload(payload))
        texts = [reply.text for reply in replies]
        assert texts and all(texts) and all(len(text) <= MAX_TEXT for text in texts)
        if kind == "say" and len(value) > MAX_TEXT:
            assert texts == [texts[0]] and texts[0].startswith(TOO_LONG)
        if kind == "forged" and not valid_payload(payload):
            assert len(texts) == 1 and texts[0] in STALE, texts
        if (len(texts) == 1 and texts[0] in STALE) or texts[0].startswith(TOO_LONG):
            event(f"refused: {kind}")  # --hypothesis-show-statistics counts them
            assert await _everything(database) == before, (kind, payload)


TOPICS = {topic for articles in shared_knowledge().articles.values() for topic in articles}
QUESTIONS = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=string.punctuation + " \t\n", max_size=60),
    st.text(alphabet=st.characters(categories=["Mn", "Me"]), max_size=60),
    st.sampled_from(
        [
            "", " ", "\x00", "cty ko tra luong\x00", "x" * 100_000, "lương " * 17_000,
            "e\u0301" * 5000, "\u0301\u0302\u0303", "?!...", "😀" * 200, "\ud800 bhxh",
            "\u202ebhxh\u202c", "BHXH!!!", "1" * 1000, "<script>alert(1)</script>",
        ]
    ),
)  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(question=QUESTIONS, language=st.sampled_from(["vi", "en"]))
def test_the_search_answers_any_text_with_a_confidence_between_0_and_1(question, language):
    knowledge = shared_knowledge()
    match = knowledge.search(question, language)
    assert 0.0 <= match.confidence <= 1.0
    assert match.topic is None or match.topic in TOPICS
    assert set(match.suggestions) <= TOPICS
    with CATALOGS.activate(language):
        reply, _buttons = faq.compose(knowledge, match, language, NOW.date())
    assert reply.strip()


def test_unionbot_ask_answers_any_line_as_json(tmp_path, capsys, monkeypatch):
    """`unionbot ask --jsonl`, the command's own function: one JSON object per line in."""
    lines = ["", "   ", "?!?!", "\x00\x00", "x" * 100_000, "e\u0301" * 3000, "bhxh", "😀"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    config = Settings.from_env({"DATABASE_URL": "sqlite+aiosqlite:///unused.db"}, cwd=tmp_path)
    args = argparse.Namespace(text=[], json=False, jsonl=True, lang=None)
    assert cli.ask(config, args, CATALOGS) == 0
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(answers) == len(lines)
    for answer in answers:
        assert 0.0 <= answer["confidence"] <= 1.0 and answer["answer"].strip()
        assert answer["topic"] is None or answer["topic"] in TOPICS
