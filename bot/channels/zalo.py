"""Zalo Official Account: the only file that knows Zalo's wire format.

Zalo's own pages (developers.zalo.me, mirrored at docs.zaloplatforms.com) are the authority;
where this file relies on something else it says so. What it implements:

- **Receiving** (`POST /zalo/webhook`): every event is signed with the header
  `X-ZEvent-Signature: mac=<hex>`, hex = SHA-256 (a plain hash, not an HMAC) of
  app_id + raw body + timestamp + OA secret key, with app_id and timestamp read from the JSON
  body. Source: the webhook page as quoted in Vietnamese write-ups ("mac = sha256(appId +
  data + timeStamp + OAsecretKey)", hainh.me "zalo-api-php-webhook-callback-official-account",
  which adds that the OA secret key is not the app secret) and Chatwoot's production Zalo
  channel (app/jobs/webhooks/zalo_events_job.rb). Some compilations say the app secret: the
  key is a setting (ZALO_OA_SECRET_KEY), and tests/payloads/zalo/signature_vectors.json keeps
  vectors for this formula. The hash is over the bytes as received, never re-serialised
  JSON. A good event is stored in the inbox before the 200 (Zalo retries at least once);
  retries are the same message.msg_id (or event + sender + timestamp when there is none).
  Ids and timestamps are strings (ids exceed 2^53) and stay strings.
- **Sending**: `POST /v3.0/oa/message/cs` with the header `access_token` (not Bearer); an
  error comes back as HTTP 200 with `error` != 0. Buttons are `oa.query.hide` buttons whose
  payload comes back as the text of a `user_send_text` event (TAP + our payload). At most 5
  buttons (the official PHP SDK, MessageBuilder MAX_ELEMENT), titles kept to MAX_TITLE
  characters (unconfirmed limits range from 20 to 100): a keyboard that does not fit is sent
  as numbered lines, and the number typed back is mapped to its payload here.
- **The reply window** (tin tư vấn, "tin-nhan/tong-quan" and "dieu-kien-gui-tin-tu-van"):
  free within 48 hours of the worker's last interaction (unlimited since 1 January 2026; the
  old 8-message cap is gone), billed from 48 hours to 7 days, refused after 7 days (-230,
  -232). Before each send the channel works out which applies from when the person last
  wrote (bot/services/reach.py); a message that cannot go out is held (Unreachable) and goes
  out when they write again. -213 (not a follower) and -227 (inactive) are held too, never
  retried; -32 (rate limited) backs off. Consultation messages may go out at any hour.
- **Broadcasts outside the free window** (tin truyền thông, `ZALO_PROMOTION_BROADCASTS`, off
  by default): a consultation message may not carry promotional content and most followers
  are outside the 48 hours, so a broadcast to them goes as a promotion message, "quảng cáo
  về sản phẩm, dịch vụ, hoặc thông tin chung về doanh nghiệp", to followers only (Zalo Cloud's
  blog on the three kinds of UID message, zalo.cloud/blog/ykuwkganb87bra7k7w).
  `POST /v3.0/oa/message/promotion`: a template, `template_type` "promotion", `language`
  VI/EN, `elements` banner (an uploaded image's attachment_id) / header (at most 100
  characters) / text, and `buttons` (@warriorteam/redai-zalo-sdk 1.32.17,
  docs/PROMOTION_API_V3_MIGRATION.md and types/promotion.d.ts; public OA clients send the
  same shape; the text's own limit is unconfirmed, taken as MAX_TEXT). Quota per follower:
  4 a month and 1 a day for a verified OA, 1 a month otherwise (Zalo OA's help centre,
  zalooa.freshdesk.com article 64000264665, which Zalo marks as not updated); by package
  1/4/6 a month, reset on the 1st (vinasite.com.vn quoting Zalo, 2023). Whether API
  promotion messages draw on that same quota is unconfirmed: ZALO_PROMOTION_PER_MONTH (4)
  and ZALO_PROMOTION_PER_DAY (1), counted per person per calendar day and month in Vietnam
  time in the database (storage/promotions.py) before each send. Hours: refused at night
  with -234; 06:00-22:00 per one integration's notes, 08:00-22:00 per the SDK above, the time
  zone undocumented: ZALO_PROMOTION_HOURS (06:00-22:00, Vietnam time); a -234 inside them
  tries again in 30 minutes. A delivery the hours or the day's quota hold waits (Later) and
  goes when they allow; one past the month's is reported (promotion_quota), as is Zalo's
  -211 (out of quota; which code a follower's own quota gets is unconfirmed). Off by default
  because Zalo folded UID promotion messages into paid, pre-approved ZBS Template Messages
  from 1 January 2026 (omn1solution.com, a Zalo partner) and one integration reports this
  endpoint shut down on 1 March 2026: an OA should check it still has it before turning
  this on.
- **Tokens** (`ZaloTokens`): the access token lasts 25 hours (`expires_in` "90000", a
  string); the refresh token works once and lasts 3 months. One process at a time refreshes,
  holding a lease in the database for longer than the HTTP timeout, and saves the new pair in
  one transaction before using it. A refused refresh token means an admin must authorise
  again (`unionbot zalo authorize`, PKCE): the admins are told, messages wait.
- **Files**: attachments arrive as URLs on Zalo's CDN (image, file with name/size/type,
  audio as .amr); uploads go to `/v2.0/oa/upload/image` (jpg/png, 1 MB) and
  `/v2.0/oa/upload/file` (pdf/doc/docx, 5 MB), then are sent by attachment id or token.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import socket
import time
import unicodedata
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.base import (
    Coalesce,
    Delivery,
    FetchError,
    Image,
    Later,
    Pace,
    PartlySent,
    SendError,
    Unreachable,
    Uploaded,
    read_json,
    split_text,
    usable_text,
)
from bot.config import Settings
from bot.inbox import InboxWriter
from bot.logs import describe
from handlers.types import (
    BILLED_OFF,
    INACTIVE,
    JOINED,
    LEFT,
    NOT_FOLLOWING,
    PROMOTION_HOURS,
    PROMOTION_QUOTA,
    PROMOTION_TODAY,
    WINDOW_CLOSED,
    Attachment,
    Incoming,
    Recipient,
)
from storage import choices, credentials, promotions
from storage.db import Database
from storage.inbox import NewUpdate
from storage.localtime import LOCAL_TIME, window_end
from storage.models import Credential

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/zalo/webhook"
SIGNATURE_HEADER = "X-ZEvent-Signature"
SEND_PATH = "/v3.0/oa/message/cs"
PROMOTION_PATH = "/v3.0/oa/message/promotion"
UPLOAD_IMAGE_PATH = "/v2.0/oa/upload/image"
UPLOAD_FILE_PATH = "/v2.0/oa/upload/file"
TOKEN_PATH = "/v4/oa/access_token"
PERMISSION_PATH = "/v4/oa/permission"
OA_PROFILE_PATH = "/v2.0/oa/getoa"

MAX_TEXT = 2000  # "Giới hạn tối đa là 2.000 ký tự" (gui-tin-tu-van-dang-van-ban)
MAX_BUTTONS = 5
MAX_TITLE = 20
TAP = "#"  # a button's query text: "#" + our payload
TAPPED = re.compile(r"^#([a-z]+:[A-Za-z0-9_.:-]*)$")  # a payload's shape (bot/dispatch.py)
NUMBER = re.compile(r"^\s*#?(\d{1,2})\s*[.)]?\s*$")
SENDER = re.compile(r"[0-9A-Za-z_-]{1,64}")  # an id that fits the people and outbox tables
FREE_WINDOW = timedelta(hours=48)
REPLY_WINDOW = timedelta(days=7)
# Zalo keeps an upload 7 days; a broadcast's image is uploaded again after 6.
UPLOAD_KEPT = timedelta(days=6)
RATE_LIMIT_PAUSE = 60.0
# While the tokens need an admin, a message waits this long between tries (not counted).
PAUSED_RETRY = 60.0
HTTP_TIMEOUT = aiohttp.ClientTimeout(total=20)

# Events the bot acts on; others (seen, received, reactions, the OA's own echoes) are
# acknowledged and dropped.
USER_EVENTS = frozenset(
    f"user_send_{kind}" for kind in (
        "text", "image", "file", "audio", "sticker", "location", "gif", "video", "link",
        "business_card",
    )
)  # fmt: skip
FOLLOW_EVENTS = {"follow": JOINED, "unfollow": LEFT}

# Zalo's error codes (docs.zaloplatforms.com/docs/OA/phu-luc/ma-loi).
TOKEN_REJECTED = {-216, -220}  # access token invalid / expired: refresh once and retry
RATE_LIMITED = -32
HELD_BY_CODE = {
    -230: WINDOW_CLOSED,  # no interaction in the past 7 days
    -232: WINDOW_CLOSED,  # no interaction, or it expired
    -213: NOT_FOLLOWING,
    -227: INACTIVE,  # banned, or inactive for over 45 days
    -211: BILLED_OFF,  # out of quota
    -320: BILLED_OFF,  # needs a Zalo Cloud Account (billing)
    -321: BILLED_OFF,  # that account is out of money
}
PERMANENT_CODES = {-201, -210, -233, -244, -248}  # invalid or refused message: a retry repeats it
# A promotion message refused at night (outside the promotional hours), or for a quota.
PROMOTION_NIGHT = -234
PROMOTION_QUOTA_CODES = {-211}  # unconfirmed which code a follower's used-up quota gets
PROMOTION_RETRY = timedelta(minutes=30)
MAX_HEADER = 100  # a promotion message's header element (unconfirmed, see the docstring)
MAX_PROMOTION_TEXT = 2000  # its text element: unconfirmed, taken as a consultation message's

CREDENTIAL = "zalo"
TOKEN_MARGIN = timedelta(minutes=10)  # refresh this long before the access token expires
LEASE = timedelta(seconds=60)  # longer than HTTP_TIMEOUT: one refresh at a time, everywhere
LEASE_POLL_SECONDS = 0.2
NEVER_AUTHORISED = "no tokens yet: run `unionbot zalo authorize`"

Seal = Callable[[str], bytes]
Reveal = Callable[[bytes], str]
Lookup = Callable[[Collection[str]], Awaitable[Mapping[str, Recipient]]]


def signature(app_id: str, body: bytes, timestamp: str, secret: str) -> str:
    """The X-ZEvent-Signature header Zalo sends with an event (see the module docstring)."""
    digest = hashlib.sha256(app_id.encode() + body + timestamp.encode() + secret.encode())
    return "mac=" + digest.hexdigest()


class ZaloError(Exception):
    """Zalo answered with `error` != 0."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"zalo error {code}: {message[:100]}")
        self.code = code


class ZaloChannel:
    name = "zalo"
    keeps_history = False

    def __init__(
        self,
        settings: Settings,
        http: aiohttp.ClientSession,
        inbox: InboxWriter,
        database: Database,
        tokens: ZaloTokens,
        *,
        seal: Seal,
        reveal: Reveal,
        tag: Callable[[str], str],
        recipients: Lookup,
        number_hint: Callable[[str | None], str],
        clock: Callable[[], datetime],
    ) -> None:
        if not settings.zalo_app_id or not settings.zalo_oa_secret_key:
            raise ValueError("ZALO_APP_ID and ZALO_OA_SECRET_KEY must both be set")
        self.app_id = settings.zalo_app_id
        self.secret = settings.zalo_oa_secret_key
        self.settings = settings
        self.http = http
        self.inbox = inbox
        self.db = database
        self.tokens = tokens
        self.seal = seal
        self.reveal = reveal
        self.tag = tag
        # Who each send goes to: one query for the sends in flight, each waiting for its own.
        self.recipient = Coalesce(recipients, Recipient())
        self.number_hint = number_hint
        self.clock = clock
        self.pace = Pace(settings.zalo_broadcast_per_second, settings.chat_gap_seconds)
        # A broadcast's image is uploaded once; every recipient is sent its attachment_id.
        self.images = Uploaded(keep=UPLOAD_KEPT.total_seconds())

    # -- receiving ------------------------------------------------------------------------

    async def handle_webhook(self, request: web.Request) -> web.Response:
        """POST /zalo/webhook: 401 without a signature, 403 on a wrong one or a stale event,
        400 on a malformed body, 200 once the event is stored (or dropped as not ours)."""
        given = request.headers.get(SIGNATURE_HEADER, "").strip()
        if not given:
            return _refuse(401, "signature missing")
        body = await request.read()
        try:
            data = read_json(body)
        except ValueError:
            return _refuse(400, "body is not JSON")
        if not isinstance(data, dict):
            return _refuse(400, "not a Zalo event")
        app_id, stamp = _text(data.get("app_id")), _text(data.get("timestamp"))
        sent = _milliseconds(stamp)
        if app_id is None or stamp is None or sent is None:
            return _refuse(400, "not a Zalo event")
        expected = signature(app_id, body, stamp, self.secret)
        # Header bytes that are not UTF-8 come as surrogate escapes: compared as the bytes sent.
        if not hmac.compare_digest(
            given.lower().encode("utf-8", "surrogateescape"), expected.encode()
        ):
            return _refuse(403, "bad signature")
        if not hmac.compare_digest(app_id.encode(), self.app_id.encode()):
            return _refuse(403, "another app's event")
        # Wall-clock time: the event's freshness is about the transport, not the bot's clock.
        if abs(time.time() * 1000 - sent) > self.settings.zalo_event_window_seconds * 1000:
            return _refuse(403, "stale event")
        event = _text(data.get("event_name")) or ""
        if event not in USER_EVENTS and event not in FOLLOW_EVENTS:
            return web.json_response({"ok": True})  # seen/received marks, the OA's own echoes
        key = external_id(data, self.tag)
        if key is None:
            return _refuse(400, "event without a sender")
        await self._number(data)
        try:
            await self.inbox.store([NewUpdate(self.name, key, data, sender=_sender(data))])
        except Exception:
            return _refuse(503, "try again")  # not stored: Zalo retries
        return web.json_response({"ok": True})

    async def _number(self, data: dict[str, Any]) -> None:
        """A typed number where numbered options were shown: note the option's payload in
        the stored event (the dispatcher decides whether it is a press or an answer)."""
        message = data.get("message")
        text = message.get("text") if isinstance(message, dict) else None
        sender = _sender(data)
        match = NUMBER.match(text) if isinstance(text, str) else None
        if match is None or sender is None:
            return
        try:
            async with self.db.sessions() as session:
                sealed = await choices.shown(session, self.name, sender)
        except Exception as exc:
            log.warning("could not read the options shown: %s", describe(exc))
            return
        options = json.loads(self.reveal(sealed)) if sealed is not None else []
        index = int(match.group(1)) - 1
        if 0 <= index < len(options):
            data["numbered"] = options[index]

    def to_incoming(self, payload: dict[str, Any]) -> Incoming | None:
        """A worker's message, a button tap (its query text), following or unfollowing."""
        event = _text(payload.get("event_name")) or ""
        user = _sender(payload)
        if user is None:
            return None
        common: dict[str, Any] = {
            "channel": self.name,
            "user_id": user,
            "chat_id": user,
            "external_id": external_id(payload, self.tag) or "",
            "sent_at": _sent_at(payload),
        }
        if event in FOLLOW_EVENTS:
            return Incoming(**common, event=FOLLOW_EVENTS[event])
        message = payload.get("message")
        message = message if isinstance(message, dict) else {}
        if event == "user_send_text":
            text = usable_text(message.get("text"))
            if text is None:
                return None
            tapped = TAPPED.match(text)
            if tapped is not None:
                return Incoming(**common, payload=tapped.group(1))
            return Incoming(**common, text=text, numbered=usable_text(payload.get("numbered")))
        if event in USER_EVENTS:
            items = message.get("attachments")
            found = [_attachment(a) for a in items if isinstance(a, dict)] if isinstance(
                items, list
            ) else []  # fmt: skip
            return Incoming(**common, attachments=tuple(found) or (Attachment(event),))
        return None

    # -- sending --------------------------------------------------------------------------

    async def send(self, delivery: Delivery) -> None:
        """Work out the reply window, then send in Zalo's format (text split at 2,000
        characters; buttons, or numbered options the number of which is typed back)."""
        person = await self.recipient(delivery.chat_id)
        self.check_window(person)
        await self._deliver(delivery, person)

    async def broadcast(self, delivery: Delivery) -> None:
        """A broadcast goes as a consultation message inside the free 48-hour window after
        the worker's last message. Outside it, with ZALO_PROMOTION_BROADCASTS, as a promotion
        message (tin truyền thông) to a follower, in Zalo's promotional hours and within its
        quota; else the recipient is reported with the reason (never billed, never dropped
        silently)."""
        person = await self.recipient(delivery.chat_id)
        try:
            free = self.check_window(person) == "free"
        except Unreachable as exc:
            if str(exc) == NOT_FOLLOWING:
                raise
            free = False
        if free:
            await self._deliver(delivery, person)
        elif self.settings.zalo_promotion_broadcasts:
            await self._promote(delivery, person)
        else:
            raise Unreachable(WINDOW_CLOSED)

    async def _promote(self, delivery: Delivery, person: Recipient) -> None:
        """One promotion message: Later outside the promotional hours or when the follower
        had today's; Unreachable past this month's. It is counted before it goes (a crash
        after the send must not lose the count), and given back if Zalo refuses it."""
        settings, now = self.settings, self.clock()
        opens = promotion_opens(now, settings.zalo_promotion_hours)
        if opens is not None:
            raise Later(PROMOTION_HOURS, opens)
        banner = await self._uploaded(delivery.image) if delivery.image is not None else None
        key = abs(delivery.id)  # the broadcast delivery: a retry is counted once
        async with self.db.writing(), self.db.sessions() as session:
            full = await promotions.take(
                session, self.name, delivery.chat_id, key, now.astimezone(LOCAL_TIME).date(),
                per_day=settings.zalo_promotion_per_day,
                per_month=settings.zalo_promotion_per_month,
            )  # fmt: skip
            await session.commit()
        if full == promotions.MONTH:
            raise Unreachable(PROMOTION_QUOTA)
        if full == promotions.DAY:
            raise Later(PROMOTION_TODAY, tomorrow_opens(now, settings.zalo_promotion_hours))
        message = promotion(delivery, banner, person.language, self.number_hint(person.language))
        body = {"recipient": {"user_id": delivery.chat_id}, "message": message}
        answer = await self._with_token(
            lambda token: self._post(PROMOTION_PATH, token, json_body=body), check=False
        )
        code = _code(answer)
        if code != 0:
            async with self.db.writing(), self.db.sessions() as session:
                await promotions.give_back(session, key)
                await session.commit()
            raise _promotion_error(code, str(answer.get("message", "")), now)

    async def _uploaded(self, image: Image) -> str:
        """The image's attachment_id: uploaded by the first send, reused by the others."""
        found = self.images.get(image.key)
        if found is None:
            async with self.images.lock(image.key):
                found = self.images.get(image.key)
                if found is None:
                    found = await self.upload(image.content, "image.jpg", image=True)
                    self.images.put(image.key, found)
        return found

    async def _deliver(self, delivery: Delivery, person: Recipient) -> None:
        """The image if there is one, then the text with its buttons (PartlySent if only
        the image went)."""
        if delivery.image is not None:
            await self.send_image(delivery.chat_id, await self._uploaded(delivery.image))
        try:
            await self._send_text(delivery, person)
        except SendError as exc:
            if delivery.image is None:
                raise
            raise PartlySent(f"text after the image: {exc}") from exc

    async def _send_text(self, delivery: Delivery, person: Recipient) -> None:
        # Numbered options were remembered with the message (`numbered`), before it was sent.
        messages, _options = render(delivery, self.number_hint(person.language))
        for message in messages:
            await self.call(SEND_PATH, {"recipient": {"user_id": delivery.chat_id}, **message})

    def check_window(self, person: Recipient) -> str:
        """Which case applies now: "free" (within 48 hours of their last message) or
        "billed" (48 hours to 7 days); raise Unreachable when neither. Someone the bot holds
        nothing about (erased; they just wrote) is tried, and Zalo decides."""
        if person.left:
            raise Unreachable(NOT_FOLLOWING)
        if person.heard_at is None:
            return "free"
        age = self.clock() - person.heard_at
        if age < FREE_WINDOW:
            return "free"
        if age >= REPLY_WINDOW:
            raise Unreachable(WINDOW_CLOSED)
        if not self.settings.zalo_billed_replies:
            raise Unreachable(BILLED_OFF)
        return "billed"

    async def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a JSON request to the OA API with the access token; a rejected token is
        refreshed once. Raises SendError (Unreachable for a closed window)."""
        return await self._with_token(lambda token: self._post(path, token, json_body=body))

    async def _with_token(
        self, request: Callable[[str], Awaitable[dict[str, Any]]], *, check: bool = True
    ) -> dict[str, Any]:
        """Zalo's answer to a request made with the access token (refreshed once if
        rejected); with `check`, an error answer raises SendError."""
        token = await self.tokens.current()
        answer = await request(token)
        if _code(answer) in TOKEN_REJECTED:
            answer = await request(await self.tokens.refresh(rejected=token))
        code = _code(answer)
        if code == 0 or not check:
            return answer
        raise _send_error(code, str(answer.get("message", "")))

    async def _post(
        self,
        path: str,
        token: str,
        *,
        json_body: dict[str, Any] | None = None,
        form: aiohttp.FormData | None = None,
    ) -> dict[str, Any]:
        url = self.settings.zalo_api_base + path
        pending = self.http.post(
            url, json=json_body, data=form, headers={"access_token": token}, timeout=HTTP_TIMEOUT
        )
        return await _answer(pending, refused_from=400)

    async def upload(self, data: bytes, filename: str, *, image: bool) -> str:
        """Upload an image (its attachment_id) or a PDF/DOC file (its token) to send next;
        Zalo keeps them 7 days."""
        path = UPLOAD_IMAGE_PATH if image else UPLOAD_FILE_PATH

        async def request(token: str) -> dict[str, Any]:
            form = aiohttp.FormData()
            form.add_field("file", data, filename=filename)
            return await self._post(path, token, form=form)

        answer = await self._with_token(request)
        found = (answer.get("data") or {}).get("attachment_id" if image else "token")
        if not isinstance(found, str):
            raise SendError("upload answered without an id", permanent=True)
        return found

    async def send_image(self, chat_id: str, attachment_id: str, caption: str = "") -> None:
        element = {"media_type": "image", "attachment_id": attachment_id}
        payload = {"template_type": "media", "elements": [element]}
        message: dict[str, Any] = {"attachment": {"type": "template", "payload": payload}}
        if caption:
            message["text"] = _nfc(caption)[:MAX_TEXT]
        await self.call(SEND_PATH, {"recipient": {"user_id": chat_id}, "message": message})

    async def send_file(self, chat_id: str, token: str) -> None:
        message = {"attachment": {"type": "file", "payload": {"token": token}}}
        await self.call(SEND_PATH, {"recipient": {"user_id": chat_id}, "message": message})

    def numbered(self, delivery: Delivery) -> list[str]:
        """The options that do not fit as Zalo buttons and go as numbered lines."""
        return render(delivery, "")[1]

    async def acknowledge(self, msg: Incoming) -> None:
        """Zalo has nothing to acknowledge: a tap is a message."""

    async def fetch(self, reference: str, limit: int) -> bytes:
        """Download an attachment from the URL Zalo gave, at most `limit` bytes."""
        if urlsplit(reference).scheme not in {"http", "https"}:
            raise FetchError("not a web address", permanent=True)
        try:
            async with self.http.get(reference, timeout=HTTP_TIMEOUT) as response:
                if response.status in {403, 404, 410}:
                    raise FetchError(f"HTTP {response.status}", permanent=True)
                if response.status >= 400:
                    raise FetchError(f"HTTP {response.status}")
                if (response.content_length or 0) > limit:
                    raise FetchError("too large", permanent=True)
                data = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    data += chunk
                    if len(data) > limit:  # stop reading: the declared length may lie
                        raise FetchError("too large", permanent=True)
        except FetchError:
            raise
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise FetchError(describe(exc)) from exc
        return bytes(data)


def render(delivery: Delivery, hint: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The messages for one delivery, and the payloads of options shown as numbered lines
    (to remember), if the keyboard did not fit as buttons."""
    text, buttons, options = _keyboard(delivery, hint)
    chunks = split_text(text, MAX_TEXT)
    messages: list[dict[str, Any]] = [{"message": {"text": chunk}} for chunk in chunks]
    if buttons:
        attachment = {"type": "template", "payload": {"buttons": buttons}}
        messages[-1]["message"]["attachment"] = attachment
    return messages, options


def _keyboard(delivery: Delivery, hint: str) -> tuple[str, list[dict[str, str]], list[str]]:
    """The text, its buttons, and the payloads of options shown as numbered lines instead
    (when the keyboard does not fit as Zalo buttons)."""
    text = _nfc(delivery.text)
    flat = [(_nfc(label), payload) for row in delivery.buttons for label, payload in row]
    if flat and len(flat) <= MAX_BUTTONS and all(len(label) <= MAX_TITLE for label, _ in flat):
        buttons = [
            {"title": label, "type": "oa.query.hide", "payload": TAP + payload}
            for label, payload in flat
        ]
        return text, buttons, []
    if not flat:
        return text, [], []
    lines = [f"{number}. {label}" for number, (label, _) in enumerate(flat, 1)]
    return "\n".join([text, "", *lines, hint]), [], [payload for _, payload in flat]


def promotion(
    delivery: Delivery, banner: str | None, language: str | None, hint: str
) -> dict[str, Any]:
    """A broadcast as a promotion message: the image as its banner, the first line as its
    header, the rest as its text (cut to fit, the last paragraph, how to stop, kept), the
    buttons or numbered options as in a consultation message."""
    text, buttons, _options = _keyboard(delivery, hint)
    header, body = _header_and_body(text)
    elements: list[dict[str, Any]] = []
    if banner is not None:
        elements.append({"type": "banner", "attachment_id": banner})
    elements.append({"type": "header", "content": header, "align": "left"})
    if body:
        elements.append({"type": "text", "content": _fit(body), "align": "left"})
    payload: dict[str, Any] = {
        "template_type": "promotion",
        "language": "EN" if language == "en" else "VI",
        "elements": elements,
    }
    if buttons:
        payload["buttons"] = buttons
    return {"attachment": {"type": "template", "payload": payload}}


def _header_and_body(text: str) -> tuple[str, str]:
    """The first line as the header when it fits, the rest as the text; a first line too
    long is cut in the header and kept whole in the text."""
    first, _, rest = text.strip().partition("\n")
    first = first.strip()
    if len(first) <= MAX_HEADER:
        return first, rest.strip()
    return first[: MAX_HEADER - 1].rstrip() + "…", text.strip()


def _fit(body: str) -> str:
    """A text within MAX_PROMOTION_TEXT: cut before its last paragraph (how to stop
    receiving these), which stays whole."""
    if len(body) <= MAX_PROMOTION_TEXT:
        return body
    head, _, last = body.rpartition("\n\n")
    room = MAX_PROMOTION_TEXT - len(last) - 3
    if not head or room < MAX_PROMOTION_TEXT // 2:
        return body[: MAX_PROMOTION_TEXT - 1] + "…"
    return head[:room].rstrip() + "…\n\n" + last


def promotion_opens(now: datetime, hours: tuple[dt_time, dt_time]) -> datetime | None:
    """When Zalo's promotional hours (local time, within a day) next open, if they are
    closed at `now` (from their end to their start); None while they are open."""
    start, end = hours
    return window_end(now, (end, start))


def tomorrow_opens(now: datetime, hours: tuple[dt_time, dt_time]) -> datetime:
    """When the promotional hours open on the (local) day after `now`."""
    start = hours[0]
    local = now.astimezone(LOCAL_TIME)
    opening = local.replace(hour=start.hour, minute=start.minute, second=0, microsecond=0)
    return _next_day(opening).astimezone(UTC)


def _next_day(local: datetime) -> datetime:
    """The same local time a day later (Vietnam keeps no daylight saving)."""
    return (local + timedelta(days=1)).replace(tzinfo=LOCAL_TIME)


def external_id(data: dict[str, Any], tag: Callable[[str], str]) -> str | None:
    """What makes a redelivered event the same: message.msg_id, else event + sender + time,
    under the vault's keyed hash (`tag`): in clear the inbox would keep who followed the OA
    and when, past their erasure, for whoever reads the database."""
    message = data.get("message")
    msg_id = _text(message.get("msg_id")) if isinstance(message, dict) else None
    if msg_id:
        return msg_id[:100]
    sender = _sender(data)
    if sender is None:
        return None
    key = f"zalo-event:{_text(data.get('event_name'))}:{sender}:{_text(data.get('timestamp'))}"
    # JSON may carry lone surrogates ("\ud800"), which UTF-8 cannot encode: escaped instead.
    return tag(key.encode("utf-8", "backslashreplace").decode("utf-8"))


def _sender(data: dict[str, Any]) -> str | None:
    """Who sent an event: an id the people and outbox tables can hold (Zalo's are digits)."""
    who = data.get("follower") if "follower" in data else data.get("sender")
    found = _text(who.get("id")) if isinstance(who, dict) else None
    return found if found is not None and SENDER.fullmatch(found) else None


def _text(value: object) -> str | None:
    """Zalo's ids and times are strings; a number (never seen) is kept exactly as text."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _milliseconds(stamp: str | None) -> int | None:
    """A timestamp as Zalo writes it (milliseconds, ASCII digits) within the datetime range;
    str.isdigit() alone takes "²" and "١٢٣", which int() then refuses or misreads."""
    if stamp is None or not (0 < len(stamp) <= 14 and stamp.isascii() and stamp.isdigit()):
        return None
    return int(stamp)


def _sent_at(data: dict[str, Any]) -> datetime | None:
    sent = _milliseconds(_text(data.get("timestamp")))
    return None if sent is None else datetime.fromtimestamp(sent / 1000, UTC)


FILE_TYPES = {
    "pdf": "application/pdf",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


def _attachment(item: dict[str, Any]) -> Attachment:
    """An image is a photo, a file a document (its type from its extension), an audio clip a
    voice message (.amr); anything else (sticker, location, link…) is not a file we take."""
    kind = _text(item.get("type")) or "unknown"
    payload = item.get("payload")
    payload = payload if isinstance(payload, dict) else {}
    url = _text(payload.get("url"))
    if kind == "image" and url:
        return Attachment("photo", url, None, "image/jpeg")
    if kind == "file" and url:
        size = _text(payload.get("size")) or ""
        declared = int(size) if len(size) <= 15 and size.isascii() and size.isdigit() else None
        extension = (_text(payload.get("type")) or "").lower().lstrip(".")
        return Attachment("document", url, declared, FILE_TYPES.get(extension))
    if kind == "audio" and url:
        return Attachment("voice", url, None, "audio/amr")
    return Attachment(kind[:20])


async def _answer(pending: Any, *, refused_from: int) -> dict[str, Any]:
    """Zalo's JSON answer to a request (an aiohttp request, not yet entered); SendError when
    Zalo could not be reached or answered an HTTP status from `refused_from` up."""
    try:
        async with pending as response:
            if response.status == 429:
                raise SendError("rate limited", retry_after=RATE_LIMIT_PAUSE)
            if response.status >= refused_from:
                raise SendError(f"HTTP {response.status}")
            answer = await response.json(content_type=None)
    except SendError:
        raise
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise SendError(describe(exc)) from exc
    if not isinstance(answer, dict):
        raise SendError("not a Zalo answer")
    return answer


def _code(answer: dict[str, Any]) -> int:
    code = answer.get("error", 0)
    try:
        return int(code)
    except (TypeError, ValueError):
        return -1


def _send_error(code: int, message: str) -> SendError:
    if code in HELD_BY_CODE:
        return Unreachable(HELD_BY_CODE[code])
    if code == RATE_LIMITED:
        return SendError("rate limited (-32)", retry_after=RATE_LIMIT_PAUSE)
    if code in TOKEN_REJECTED:
        # Refused again right after a refresh: wait for an admin, without using up tries.
        return SendError(f"zalo refused the access token ({code})", counted=False,
                         retry_after=PAUSED_RETRY)  # fmt: skip
    return SendError(str(ZaloError(code, message)), permanent=code in PERMANENT_CODES)


def _promotion_error(code: int, message: str, now: datetime) -> SendError:
    """What Zalo's refusal of a promotion message means for the broadcast."""
    if code == PROMOTION_NIGHT:
        # Our hours said open, Zalo's did not: try again a little later.
        return Later(PROMOTION_HOURS, now + PROMOTION_RETRY)
    if code in PROMOTION_QUOTA_CODES:
        return Unreachable(PROMOTION_QUOTA)
    return _send_error(code, message)


def _nfc(text: str) -> str:
    # Lengths are Zalo's limits in characters: "ệ" typed as e + two marks is one.
    return unicodedata.normalize("NFC", text)


def _refuse(status: int, reason: str) -> web.Response:
    return web.json_response({"ok": False, "error": reason}, status=status)


# -- tokens ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenPair:
    access: str
    refresh: str
    expires_at: datetime


class TokensBroken(SendError):
    """Zalo refused the refresh token (or there is none): an admin must authorise again."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, counted=False, retry_after=PAUSED_RETRY)


class ZaloTokens:
    """The access token, refreshed before it expires by exactly one process at a time."""

    def __init__(
        self,
        settings: Settings,
        http: aiohttp.ClientSession,
        database: Database,
        *,
        seal: Seal,
        reveal: Reveal,
        on_broken: Callable[[str], Awaitable[None]],
    ) -> None:
        self.settings = settings
        self.http = http
        self.db = database
        self.seal = seal
        self.reveal = reveal
        self.on_broken = on_broken
        # Who holds the lease: unique per process and per instance.
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(4)}"
        self._access: str | None = None
        self._expires: datetime | None = None
        self._lock = asyncio.Lock()

    async def current(self) -> str:
        """A valid access token: the one in hand, the one in the database, or a new one."""
        now = datetime.now(UTC)
        expires = self._expires
        if self._access is not None and (expires is None or expires - TOKEN_MARGIN > now):
            return self._access
        async with self._lock:
            return await self.refresh()

    async def refresh(self, rejected: str | None = None) -> str:
        """A token other than `rejected` that is not about to expire: taken from the
        database if another process already refreshed, else refreshed under the lease."""
        deadline = time.monotonic() + 2 * LEASE.total_seconds()
        while True:
            found, leased = await self._usable_or_lease(rejected)
            if found is not None:
                return found
            if leased:
                return await self._refresh_leased()
            if time.monotonic() > deadline:
                raise SendError("another process has been refreshing the Zalo token too long")
            await asyncio.sleep(LEASE_POLL_SECONDS)

    async def _usable_or_lease(self, rejected: str | None) -> tuple[str | None, bool]:
        """The stored token if usable; else whether this process took the lease."""
        now = datetime.now(UTC)
        async with self.db.writing(), self.db.sessions() as session:
            row = await credentials.get(session, CREDENTIAL)
            first = False
            if row is None:
                row, first = await self._seed(session, now)
            broken = row.broken
            access = self.reveal(row.access_sealed) if row.access_sealed else None
            fresh = row.access_expires_at is None or row.access_expires_at - TOKEN_MARGIN > now
            usable = access is not None and access != rejected and fresh
            leased = False
            if not broken and not usable:
                leased = await credentials.take_lease(
                    session, CREDENTIAL, self.owner, now, now + LEASE
                )
            await session.commit()
        if first and broken:
            await self.on_broken(broken)  # once: only the process that created the row
        if broken:
            raise TokensBroken(f"zalo needs authorising: {broken}")
        if not usable:
            return None, leased  # refresh it, or wait for whoever holds the lease
        self._access, self._expires = access, row.access_expires_at
        return access, False

    async def _seed(self, session: AsyncSession, now: datetime) -> tuple[Credential, bool]:
        """The first start: the pair from the settings (ZALO_ACCESS_TOKEN,
        ZALO_REFRESH_TOKEN); without one, a row that says an admin must authorise (and
        whether it was this call that said so)."""
        access, refresh = self.settings.zalo_access_token, self.settings.zalo_refresh_token
        # The given access token's age is unknown: used until Zalo refuses it.
        row = await credentials.seed(
            session, CREDENTIAL, self.seal(access) if access else None,
            self.seal(refresh) if refresh else None, None, now,
        )  # fmt: skip
        marked = row.refresh_sealed is None and await credentials.mark_broken(
            session, CREDENTIAL, NEVER_AUTHORISED, now
        )
        return (await credentials.get(session, CREDENTIAL) or row), marked

    async def _refresh_leased(self) -> str:
        """Holding the lease: exchange the refresh token, save the new pair, then use it."""
        async with self.db.sessions() as session:
            row = await credentials.get(session, CREDENTIAL)
            refresh = self.reveal(row.refresh_sealed) if row and row.refresh_sealed else None
        if refresh is None:
            await self._broken("no refresh token")
            raise TokensBroken("no refresh token: run `unionbot zalo authorize`")
        try:
            pair = await exchange(
                self.settings, self.http, {"grant_type": "refresh_token", "refresh_token": refresh}
            )
        except ZaloError as exc:
            if exc.code == RATE_LIMITED:
                await self._end_lease()
                raise SendError("rate limited (-32)", retry_after=RATE_LIMIT_PAUSE) from exc
            await self._broken(str(exc))
            raise TokensBroken(f"zalo refused the refresh token: {exc}") from exc
        except SendError:
            await self._end_lease()
            raise
        await store(self.db, self.seal, pair, datetime.now(UTC))
        self._access, self._expires = pair.access, pair.expires_at
        log.info("Zalo access token refreshed")
        return pair.access

    async def _end_lease(self) -> None:
        async with self.db.writing(), self.db.sessions() as session:
            await credentials.end_lease(session, CREDENTIAL, self.owner)
            await session.commit()

    async def _broken(self, reason: str) -> None:
        async with self.db.writing(), self.db.sessions() as session:
            first = await credentials.mark_broken(session, CREDENTIAL, reason, datetime.now(UTC))
            await session.commit()
        self._access = None
        if first:
            log.error("Zalo refused the refresh token; an admin must run `unionbot zalo authorize`")
            await self.on_broken(reason)


async def exchange(
    settings: Settings, http: aiohttp.ClientSession, fields: dict[str, str]
) -> TokenPair:
    """POST to Zalo's token endpoint (a refresh token or an authorisation code) with the app
    secret; ZaloError when Zalo refuses, SendError when it could not be reached."""
    url = settings.zalo_oauth_base + TOKEN_PATH
    form = {"app_id": settings.zalo_app_id or "", **fields}
    headers = {"secret_key": settings.zalo_app_secret or ""}
    # Its refusals come as JSON (with HTTP 200 or 4xx): read them; a 5xx is an outage.
    pending = http.post(url, data=form, headers=headers, timeout=HTTP_TIMEOUT)
    answer = await _answer(pending, refused_from=500)
    access, refresh = answer.get("access_token"), answer.get("refresh_token")
    if not isinstance(access, str) or not isinstance(refresh, str):
        reason = answer.get("error_reason") or answer.get("error_name") or answer.get("message")
        raise ZaloError(_code(answer), str(reason or "no token in the answer"))
    try:
        seconds = int(str(answer.get("expires_in", "90000")))
    except ValueError:
        seconds = 90000
    return TokenPair(access, refresh, datetime.now(UTC) + timedelta(seconds=seconds))


async def store(database: Database, seal: Seal, pair: TokenPair, now: datetime) -> None:
    """Save a new pair (and end any lease and any 'authorise again' mark) in one
    transaction."""
    async with database.writing(), database.sessions() as session:
        if await credentials.get(session, CREDENTIAL) is None:
            await credentials.seed(session, CREDENTIAL, None, None, None, now)
        await credentials.save(
            session, CREDENTIAL, seal(pair.access), seal(pair.refresh), pair.expires_at, now
        )
        await session.commit()


async def oa_name(
    settings: Settings, http: aiohttp.ClientSession, access: str, seconds: float
) -> str:
    """The Official Account's name, from its profile (GET /v2.0/oa/getoa): the cheapest call
    that shows whether Zalo takes the access token. ZaloError when it refuses it (-216:
    invalid or expired), SendError when Zalo cannot be reached."""
    pending = http.get(
        settings.zalo_api_base + OA_PROFILE_PATH, headers={"access_token": access},
        timeout=aiohttp.ClientTimeout(total=seconds),
    )  # fmt: skip
    answer = await _answer(pending, refused_from=400)
    code = _code(answer)
    if code != 0:
        raise ZaloError(code, str(answer.get("message") or "refused"))
    data = answer.get("data")
    return str(data.get("name") or "") if isinstance(data, dict) else ""


def pkce() -> tuple[str, str]:
    """A PKCE verifier (43 characters: 32 random bytes, base64url) and its S256 challenge."""
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def code_from(pasted: str, state: str) -> str | None:
    """The authorisation code in what the admin pasted: the whole address Zalo redirected
    to (its `state`, when there, must be ours), or the bare code."""
    pasted = pasted.strip()
    if "code=" not in pasted:
        return pasted if re.fullmatch(r"[A-Za-z0-9_\-.~]{8,}", pasted) else None
    query = parse_qs(urlsplit(pasted).query or pasted.partition("?")[2])
    if "state" in query and query["state"][0] != state:
        return None
    codes = query.get("code")
    return codes[0] if codes else None


def permission_url(settings: Settings, redirect_uri: str, challenge: str, state: str) -> str:
    """Where an admin grants the app access to the OA (Zalo then redirects with ?code=)."""
    query = urlencode(
        {
            "app_id": settings.zalo_app_id or "",
            "redirect_uri": redirect_uri,
            "code_challenge": challenge,
            "state": state,
        }
    )
    return f"{settings.zalo_oauth_base}{PERMISSION_PATH}?{query}"
