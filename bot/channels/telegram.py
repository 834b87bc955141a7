"""Telegram: the only file that knows the Bot API's wire format.

python-telegram-bot's Application holds the bot and makes every Bot API call (and parses
what long polling brings); an update's few fields the bot uses are read from its JSON here
(`_convert`), checked one by one. Its Updater is not used, because it acknowledges too
early: its polling advances the offset and its webhook server answers before handlers run.
Instead:
- the webhook is our aiohttp route, answering 200 only once the update is in the inbox;
- long polling is our getUpdates loop, advancing the offset only after the inbox commit.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application
from telegram.warnings import PTBDeprecationWarning, PTBUserWarning

from bot.channels.base import (
    Delivery,
    FetchError,
    Pace,
    PartlySent,
    SendError,
    Uploaded,
    read_json,
    split_text,
    storable,
    usable_text,
)
from bot.channels.telegram_request import AiohttpRequest
from bot.config import Settings
from bot.inbox import InboxWriter
from bot.logs import describe
from handlers.types import LEFT, Attachment, Incoming
from storage.inbox import NewUpdate

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
HANDLED_KINDS = {"message", "callback_query", "my_chat_member"}
# With paid broadcasts on (TELEGRAM_PAID_BROADCASTS), Telegram allows this many messages a
# second, each beyond the free 30 billed in Stars (sendMessage's allow_paid_broadcast).
PAID_PER_SECOND = 1000.0
POLL_TIMEOUT_SECONDS = 30
# A photo's caption, in UTF-16 code units as Telegram counts: a longer text goes after it.
CAPTION_LIMIT = 1024
# Webhook updates parsed but not yet dispatched, kept to avoid parsing twice.
MAX_REMEMBERED = 10_000
_UNSEEN = object()
# send() calls sendMessage (and sendPhoto) through do_api_request on purpose (see there);
# PTB would warn.
warnings.filterwarnings("ignore", r"Please use 'Bot\.send(Message|Photo)'", PTBUserWarning)
ATTACHMENT_KINDS = (
    "photo", "document", "voice", "audio", "video", "video_note", "animation", "sticker",
    "location", "contact",
)  # fmt: skip


def file_base_url(api_base: str) -> str:
    """https://api.telegram.org/bot -> https://api.telegram.org/file/bot (same for fakes)."""
    head, sep, _tail = api_base.rstrip("/").rpartition("/bot")
    return f"{head}/file/bot" if sep else api_base.rstrip("/") + "/file/bot"


class TelegramChannel:
    name = "telegram"
    keeps_history = False

    def __init__(
        self,
        settings: Settings,
        http: aiohttp.ClientSession,
        inbox: InboxWriter,
        group_button: Callable[[str], bool] = lambda payload: False,
    ):
        if not settings.telegram_token:
            raise ValueError("TELEGRAM_BOT_TOKEN is not set")
        self.settings = settings
        self.inbox = inbox
        # Which presses count in a group chat: the handlers decide (bot/app.py wires it).
        self.group_button = group_button
        self.webhook_secret = settings.telegram_webhook_secret or derived_secret(
            settings.telegram_token or ""
        )
        self.application = (
            Application.builder()
            .token(settings.telegram_token)
            .base_url(settings.telegram_api_base)
            .base_file_url(file_base_url(settings.telegram_api_base))
            .request(AiohttpRequest(http))
            .get_updates_request(AiohttpRequest(http))
            .updater(None)
            .build()
        )
        self.paid_broadcasts = settings.telegram_paid_broadcasts
        rate = PAID_PER_SECOND if self.paid_broadcasts else settings.telegram_broadcast_per_second
        self.pace = Pace(rate, settings.chat_gap_seconds)
        # A broadcast's image is uploaded with its first send; the others send its file_id.
        self.photos = Uploaded()
        self._parsed: OrderedDict[str, Incoming | None] = OrderedDict()

    @property
    def bot(self) -> Any:
        return self.application.bot

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def polling(self) -> bool:
        """Whether updates come by long polling (`poll`, run by one process at a time: the
        one with the duties, bot/leadership.py) rather than by webhook."""
        return not self.settings.telegram_webhook_mode

    async def start(self) -> None:
        """Check the token (getMe), then set the webhook or make way for long polling."""
        await self.application.initialize()
        await self.application.start()
        if self.settings.telegram_webhook_mode:
            url = f"{self.settings.public_url}{WEBHOOK_PATH}"
            await self.bot.set_webhook(
                url=url, secret_token=self.webhook_secret, allowed_updates=ALLOWED_UPDATES
            )
            log.info("Telegram webhook at %s", url)
        else:
            await self.bot.delete_webhook(drop_pending_updates=False)

    async def stop(self) -> None:
        with suppress(Exception):
            await self.application.stop()
        await self.application.shutdown()

    # -- receiving ------------------------------------------------------------------------

    async def handle_webhook(self, request: web.Request) -> web.Response:
        """POST /telegram/webhook: 403 on a wrong secret, 400 on a malformed body, 200 once
        the update is stored."""
        # Header bytes that are not UTF-8 come as surrogate escapes: compared as the bytes sent.
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, self.webhook_secret.encode()):
            return web.json_response({"ok": False, "error": "forbidden"}, status=403)
        try:
            data = read_json(await request.read())
        except web.HTTPRequestEntityTooLarge:
            raise
        except ValueError:
            return web.json_response({"ok": False, "error": "body is not JSON"}, status=400)
        if not _is_update(data):
            return web.json_response({"ok": False, "error": "not a Telegram update"}, status=400)
        key = str(data["update_id"])
        if HANDLED_KINDS & data.keys():
            # What the bot acts on must parse; other kinds are stored only to be ignored, so
            # a kind newer than this python-telegram-bot is not refused (Telegram would retry).
            try:
                parsed = self._convert(data)
            except Malformed:
                return web.json_response({"ok": False, "error": "malformed update"}, status=400)
            # Parsed once: the dispatcher takes this instead of parsing the stored payload
            # again (after a restart it parses the payload). The first delivery wins.
            self._parsed.setdefault(key, parsed)
            while len(self._parsed) > MAX_REMEMBERED:
                self._parsed.popitem(last=False)
        try:
            await self.inbox.store([NewUpdate(self.name, key, data, sender=sender_of(data))])
        except Exception:
            self._parsed.pop(key, None)
            # Not stored: Telegram retries on a non-2xx answer.
            return web.json_response({"ok": False, "error": "try again"}, status=503)
        return web.json_response({"ok": True})

    async def poll(self) -> None:
        """Long polling: getUpdates, store, commit, and only then advance the offset."""
        log.info("Telegram long polling started")
        offset: int | None = None
        pause = 1.0
        while True:
            try:
                updates = await self.bot.get_updates(
                    offset=offset, timeout=POLL_TIMEOUT_SECONDS, allowed_updates=ALLOWED_UPDATES
                )
                if updates:
                    await self.inbox.store(
                        [
                            NewUpdate(
                                self.name,
                                str(u.update_id),
                                storable(u.to_dict()),
                                sender=str(u.effective_user.id) if u.effective_user else None,
                            )
                            for u in updates
                        ]
                    )
                    offset = updates[-1].update_id + 1
                pause = 1.0
            except asyncio.CancelledError:
                raise
            except InvalidToken:
                log.error("Telegram rejected the bot token; polling stopped")
                return
            except Conflict:
                log.warning("another getUpdates or a webhook is active for this bot; waiting")
                await asyncio.sleep(5)
            except Exception as exc:
                log.warning("polling failed, retrying in %.0f s: %s", pause, describe(exc))
                await asyncio.sleep(pause)
                pause = min(pause * 2, 30.0)

    def to_incoming(self, payload: dict[str, Any]) -> Incoming | None:
        """Private-chat messages and button presses; everything else is ignored."""
        remembered = self._parsed.pop(str(payload.get("update_id")), _UNSEEN)
        if remembered is not _UNSEEN:
            return remembered  # type: ignore[return-value]
        try:
            return self._convert(payload)
        except Malformed:
            log.warning("skipped a malformed Telegram update")
            return None

    def _convert(self, payload: dict[str, Any]) -> Incoming | None:
        """Read the update as sent, checking every field the bot uses (Telegram's own fields
        may be missing or of another type in a forged or broken update). What the bot cannot
        use is ignored like any other kind; an object that is not one raises Malformed.
        (Read from the JSON, not through PTB's classes: parsing the whole update into them
        cost the webhook a sixth of its time, for the few fields read here.)"""
        external_id = _id(payload.get("update_id")) or ""
        member = _object(payload.get("my_chat_member"))
        query = _object(payload.get("callback_query"))
        if member is not None:
            msg = self._left(member, external_id)
        elif query is not None:
            msg = self._press(query, external_id)
        else:
            msg = self._message(_object(payload.get("message")), external_id)
        return msg if msg is not None else _ignored(payload)

    def _left(self, member: dict[str, Any], external_id: str) -> Incoming | None:
        """The person blocked the bot (or unblocked it: they will write when they want)."""
        chat, new = _object(member.get("chat")), _object(member.get("new_chat_member"))
        if chat is None or new is None or chat.get("type") != "private":
            return None
        if new.get("status") != "kicked":
            return None
        who = _object(member.get("from")) or {}
        user, chat_id = _id(who.get("id")), _id(chat.get("id"))
        if user is None or chat_id is None:
            return None
        return Incoming(self.name, user, chat_id, external_id=external_id, event=LEFT)

    def _press(self, query: dict[str, Any], external_id: str) -> Incoming | None:
        message, who = _object(query.get("message")), _object(query.get("from"))
        data = usable_text(query.get("data"))
        chat = _object(message.get("chat")) if message is not None else None
        if data is None or who is None or chat is None:
            return None
        # In a group only officers' buttons count (the case alerts sent to registered
        # officers' groups); handlers/officer.py checks who pressed them.
        if chat.get("type") != "private" and not self.group_button(data):
            return None
        user, chat_id = _id(who.get("id")), _id(chat.get("id"))
        if user is None or chat_id is None:
            return None
        return Incoming(
            channel=self.name, user_id=user, chat_id=chat_id, payload=data,
            locale=usable_text(who.get("language_code")), external_id=external_id,
            ack=usable_text(query.get("id")),
        )  # fmt: skip

    def _message(self, msg: dict[str, Any] | None, external_id: str) -> Incoming | None:
        # Edited messages, channel posts, the bot added to a group, group chatter, bots.
        chat = _object(msg.get("chat")) if msg is not None else None
        if msg is None or chat is None or chat.get("type") != "private":
            return None
        who = _object(msg.get("from"))
        if who is None or who.get("is_bot") is not False:
            return None
        user, chat_id = _id(who.get("id")), _id(chat.get("id"))
        if user is None or chat_id is None:
            return None
        attachments = tuple(
            _attachment(kind, msg[kind]) for kind in ATTACHMENT_KINDS if msg.get(kind)
        )
        return Incoming(
            channel=self.name, user_id=user, chat_id=chat_id, text=usable_text(msg.get("text")),
            attachments=attachments, locale=usable_text(who.get("language_code")),
            external_id=external_id, sent_at=_moment(msg.get("date")),
        )  # fmt: skip

    # -- sending --------------------------------------------------------------------------

    async def send(self, delivery: Delivery) -> None:
        await self._deliver(delivery, paid=False)

    async def broadcast(self, delivery: Delivery) -> None:
        """A broadcast goes as any message; with paid broadcasts on, marked as one, so
        Telegram lets it past the free 30 a second (and bills it)."""
        await self._deliver(delivery, paid=self.paid_broadcasts)

    async def _deliver(self, delivery: Delivery, *, paid: bool) -> None:
        """The text; with an image, the photo with the text as its caption, or, when the text
        is longer than a caption may be, the photo and then the text (PartlySent if the photo
        went and the text did not)."""
        if delivery.image is None:
            await self._send(delivery, paid=paid)
        elif len(delivery.text.encode("utf-16-le")) // 2 <= CAPTION_LIMIT:
            await self._photo(delivery, delivery.text, paid=paid)
        else:
            await self._photo(delivery, "", paid=paid)
            try:
                await self._send(delivery, paid=paid)
            except SendError as exc:
                raise PartlySent(f"text after the image: {exc}") from exc

    async def _send(self, delivery: Delivery, *, paid: bool = False) -> None:
        markup = keyboard(delivery.buttons) if delivery.buttons else None
        chunks = split_text(delivery.text)
        with _send_errors():
            for i, chunk in enumerate(chunks):
                params: dict[str, Any] = {"chat_id": int(delivery.chat_id), "text": chunk}
                if markup is not None and i == len(chunks) - 1:
                    params["reply_markup"] = markup
                if paid:
                    params["allow_paid_broadcast"] = True
                # The raw call: PTB builds and checks the request and raises its errors, but
                # does not turn the Message sent back into objects nobody reads (a third of
                # the event loop's time under load went there).
                await self.bot.do_api_request("sendMessage", api_kwargs=params)

    async def _photo(self, delivery: Delivery, caption: str, *, paid: bool) -> None:
        """sendPhoto: the first send of an image uploads it, the others reuse its file_id."""
        assert delivery.image is not None
        key = delivery.image.key
        params: dict[str, Any] = {"chat_id": int(delivery.chat_id)}
        if caption:
            params["caption"] = caption
            if delivery.buttons:
                params["reply_markup"] = keyboard(delivery.buttons)
        if paid:
            params["allow_paid_broadcast"] = True
        with _send_errors():
            if self.photos.get(key) is None:
                async with self.photos.lock(key):
                    if self.photos.get(key) is None:
                        photo = InputFile(delivery.image.content, filename="image.jpg")
                        sent = await self.bot.do_api_request(
                            "sendPhoto", api_kwargs={**params, "photo": photo}
                        )
                        if found := _file_id(sent):
                            self.photos.put(key, found)
                        return
            params["photo"] = self.photos.get(key)
            await self.bot.do_api_request("sendPhoto", api_kwargs=params)

    def numbered(self, delivery: Delivery) -> list[str]:
        """Buttons are buttons here: nothing to remember."""
        return []

    async def acknowledge(self, msg: Incoming) -> None:
        if msg.ack:
            await self.bot.answer_callback_query(msg.ack)

    async def fetch(self, reference: str, limit: int) -> bytes:
        """getFile, then download from the file endpoint (derived from TELEGRAM_API_BASE)."""
        try:
            file = await self.bot.get_file(reference)
            if file.file_size is not None and file.file_size > limit:
                raise FetchError("too large", permanent=True)
            data = bytes(await file.download_as_bytearray())
        except FetchError:
            raise
        except BadRequest as exc:
            # Unknown or expired file_id, or over the Bot API's own 20 MB download limit.
            raise FetchError("BadRequest", permanent=True) from exc
        except TelegramError as exc:
            raise FetchError(type(exc).__name__) from exc
        if len(data) > limit:
            raise FetchError("too large", permanent=True)
        return data


@functools.lru_cache(maxsize=1024)
def keyboard(buttons: tuple[tuple[tuple[str, str], ...], ...]) -> dict[str, Any]:
    """An inline keyboard as the Bot API's plain JSON object (shared: not to be changed).
    The same few keyboards (the menu in each language) go out over and over: each is built
    once (PTB passes plain values on as they are; given an InlineKeyboardMarkup it would
    convert it again for every send)."""
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=payload) for label, payload in row]
         for row in buttons]
    )  # fmt: skip
    return markup.to_dict()


def _attachment(kind: str, value: object) -> Attachment:
    """What the bot needs to fetch a file later: its file_id, declared size and type.
    A photo comes in several sizes, smallest first: the largest is the evidence."""
    if kind == "photo":
        largest = _object(value[-1] if isinstance(value, list) else value) or {}
        return Attachment(kind, usable_text(largest.get("file_id")),
                          _size(largest.get("file_size")), "image/jpeg")  # fmt: skip
    if kind in {"document", "voice"}:
        file = _object(value) or {}
        return Attachment(kind, usable_text(file.get("file_id")), _size(file.get("file_size")),
                          usable_text(file.get("mime_type")))  # fmt: skip
    return Attachment(kind)


class Malformed(ValueError):
    """An update whose parts are not what the Bot API sends (an object as text, say)."""


def _object(value: object) -> dict[str, Any] | None:
    """A part of an update that is a JSON object: None when absent."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Malformed(type(value).__name__)
    return value


def _moment(value: object) -> datetime | None:
    """A Unix time as Telegram sends dates; None when it is not one."""
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class Standing:
    """What Telegram says of the bot (`unionbot doctor`): its @username, or None with
    Telegram's reason when the token was refused; the webhook it holds ("" for none; the
    secret cannot be read back), the updates waiting, and its last failed delivery."""

    username: str | None
    refusal: str = ""
    webhook_url: str = ""
    pending: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None


async def standing(settings: Settings, http: aiohttp.ClientSession, seconds: float) -> Standing:
    """getMe, then getWebhookInfo (each within `seconds`), as plain calls that change
    nothing; aiohttp's errors (and TimeoutError) when Telegram cannot be reached. Neither URL
    may be shown: each holds the token."""
    base = f"{settings.telegram_api_base}{settings.telegram_token}"
    wait = aiohttp.ClientTimeout(total=seconds)
    me = await _bot_api(http, f"{base}/getMe", wait)
    if not me.get("ok"):
        return Standing(None, str(me.get("description") or me.get("error_code") or "?"))
    username = str((me.get("result") or {}).get("username") or "")
    info = (await _bot_api(http, f"{base}/getWebhookInfo", wait)).get("result") or {}
    stamp = info.get("last_error_date")
    return Standing(
        username,
        webhook_url=str(info.get("url") or ""),
        pending=int(info.get("pending_update_count") or 0),
        last_error=str(info["last_error_message"]) if info.get("last_error_message") else None,
        last_error_at=datetime.fromtimestamp(stamp, UTC) if isinstance(stamp, int) else None,
    )


async def _bot_api(
    http: aiohttp.ClientSession, url: str, wait: aiohttp.ClientTimeout
) -> dict[str, Any]:
    """A Bot API method's JSON answer, whatever its HTTP status (a refusal says why)."""
    async with http.get(url, timeout=wait) as response:
        try:
            answer = await response.json(content_type=None)
        except ValueError:
            answer = None
    if not isinstance(answer, dict):
        return {"ok": False, "description": f"HTTP {response.status}, not a Bot API answer"}
    return answer


def derived_secret(token: str) -> str:
    """The webhook secret when TELEGRAM_WEBHOOK_SECRET is unset: derived from the token, so
    every process of the bot sets the same one (a random one per process would make Telegram
    hold only the last process's, and the others refuse every update)."""
    return hmac.new(token.encode(), b"unionbot telegram webhook", hashlib.sha256).hexdigest()


def sender_of(data: dict[str, Any]) -> str | None:
    """Who sent an update (its `from`), for keeping one person's updates in order."""
    for kind, value in data.items():
        if kind != "update_id" and isinstance(value, dict):
            sender = value.get("from")
            if isinstance(sender, dict) and isinstance(sender.get("id"), int | str):
                return str(sender["id"])[:64]
    return None


def _id(value: object) -> str | None:
    """A Telegram id as text: an integer within 64 bits, as Telegram sends them."""
    if isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63:
        return str(value)
    return None


def _size(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _is_update(data: object) -> bool:
    if not isinstance(data, dict):
        return False
    update_id = data.get("update_id")
    # Within 64 bits: a longer id would not fit the inbox's external_id.
    return isinstance(update_id, int) and not isinstance(update_id, bool) and 0 <= update_id < 2**63


def _ignored(payload: dict[str, Any]) -> Incoming | None:
    """Nothing to handle (logged by kind, never by content)."""
    kind = next((key for key in payload if key != "update_id"), "empty")
    log.info("ignored a Telegram update of kind %s", kind[:40])
    return None


@contextmanager
def _send_errors() -> Iterator[None]:
    """The Bot API's errors as SendError: what to retry, when, and what never."""
    try:
        yield
    except RetryAfter as exc:
        raise SendError("rate limited", retry_after=_seconds(exc)) from exc
    except Forbidden as exc:
        # Blocked by the person (or a group that removed the bot): never retried.
        raise SendError("Forbidden", permanent=True, gone=True) from exc
    except BadRequest as exc:
        raise SendError(type(exc).__name__, permanent=True) from exc
    except TelegramError as exc:
        raise SendError(type(exc).__name__) from exc


def _file_id(sent: object) -> str | None:
    """The largest size's file_id of the photo a sendPhoto sent back, to send it again."""
    sizes = sent.get("photo") if isinstance(sent, dict) else None
    if isinstance(sizes, list) and sizes and isinstance(sizes[-1], dict):
        found = sizes[-1].get("file_id")
        return found if isinstance(found, str) else None
    return None


def _seconds(exc: RetryAfter) -> float:
    """RetryAfter.retry_after in seconds; PTB 22 warns that it will become a timedelta."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)
