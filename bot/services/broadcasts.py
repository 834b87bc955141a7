"""Broadcasts: a union's message to the workers who subscribed, composed on the dashboard or
on Telegram, delivered by bot/broadcaster.py.

Who may send what: admins to any audience, officers to their own union's subtree. A
broadcast to the whole federation (on the root union, narrowed or not) waits for a second
admin's approval (two-person rule), who is asked on Telegram; every step is audited. The
audience is the subscribers of one topic, narrowed by what workers already told the bot when
they filed a case under their name (its union, ward, workplace; never an anonymous report),
their language and messenger.
A broadcast with answers (`poll_options`) is a quick poll (bot/services/polls.py).
A broadcast may carry one picture (`Picture`): a JPEG or PNG upload re-encoded from its pixels
alone by the evidence scrubber (no EXIF, GPS position or camera serial goes to thousands of
workers), and made small enough for every messenger (Zalo takes images up to 1 MB).
"""

from __future__ import annotations

import hashlib
import hmac
import io
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit

from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import Services, access, polls, scrubber
from bot.services.i18n import N_, _
from handlers.payloads import BroadcastAction
from handlers.types import MAX_TEXT, Address, Button, Outgoing
from storage import audit, broadcasts, officers, unions
from storage.broadcasts import CHANNELS, Filters
from storage.localtime import window_end
from storage.models import POLL_OPTIONS, SUBSCRIPTION_TOPICS, Broadcast, Officer

TOPICS: dict[str, str] = {
    "policy": N_("Policy news"),
    "activities": N_("Union activities"),
    "support": N_("Support programmes"),
}
assert tuple(TOPICS) == SUBSCRIPTION_TOPICS
LANGUAGES = ("vi", "en")
# Room left in one message for the link and the footer.
MAX_BODY = MAX_TEXT - 600
MAX_LINK = 500
# A poll's answer fits on a button.
MAX_ANSWER = 40
# An image as uploaded; the pixel cap is the scrubber's (MAX_PIXELS).
MAX_IMAGE_BYTES = 5 * 1024 * 1024
# What every messenger takes: Zalo's image upload at most 1 MB (Telegram's photos 10 MB).
MAX_IMAGE_SENT = 1_000_000
# The longer side tried in turn until the JPEG fits in MAX_IMAGE_SENT.
IMAGE_SIDES = (scrubber.MAX_SIDE, 1920, 1600, 1280, 960, 640)
IMAGE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")  # JPEG, PNG


class BroadcastError(ValueError):
    """A draft or an action that cannot be taken; the message is a msgid to translate."""


@dataclass(frozen=True, slots=True)
class Audience:
    """Who a broadcast is for, as chosen (see storage.broadcasts.Filters)."""

    union_id: int
    topic: str = "policy"
    wards: frozenset[int] = frozenset()
    workplaces: frozenset[int] = frozenset()
    languages: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset(CHANNELS)

    def to_json(self) -> dict[str, Any]:
        return {
            "union": self.union_id,
            "wards": sorted(self.wards),
            "workplaces": sorted(self.workplaces),
            "languages": sorted(self.languages),
            "channels": sorted(self.channels),
        }

    @classmethod
    def of(cls, broadcast: Broadcast) -> Audience:
        saved = broadcast.audience
        return cls(
            union_id=int(saved.get("union", broadcast.union_id)),
            topic=broadcast.topic,
            wards=frozenset(int(i) for i in saved.get("wards", [])),
            workplaces=frozenset(int(i) for i in saved.get("workplaces", [])),
            languages=frozenset(str(x) for x in saved.get("languages", [])),
            channels=frozenset(str(x) for x in saved.get("channels", CHANNELS)),
        )


@dataclass(frozen=True, slots=True)
class Picture:
    """A broadcast's image: a JPEG holding the pixels alone (see `picture`)."""

    content: bytes
    width: int
    height: int

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height


@dataclass(frozen=True, slots=True)
class Draft:
    """A broadcast as composed, before it is saved."""

    audience: Audience
    text: str
    text_en: str | None = None
    link: str | None = None
    # None: now (or once quiet hours end).
    send_at: datetime | None = None
    # A quick poll's answers (2 to POLL_OPTIONS; the text is its question); () for none.
    poll_options: tuple[str, ...] = ()
    image: Picture | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a broadcast stands: counts by outcome, the rate in the last minute, and when it
    should end at that rate."""

    total: int
    sent: int
    pending: int
    failed: int
    unreachable: int
    uncertain: int
    skipped: int
    reasons: dict[str, int] = field(default_factory=dict)
    rate: float = 0.0
    expected_end: datetime | None = None

    @property
    def done(self) -> int:
        return self.total - self.pending


async def filters(session: AsyncSession, audience: Audience) -> Filters:
    """The storage filters for an audience: the union's subtree (none for the root's)."""
    root = await unions.root(session)
    whole = root is not None and audience.union_id == root.id
    return Filters(
        topic=audience.topic,
        unions=None if whole else await access.below(session, audience.union_id),
        wards=audience.wards,
        workplaces=audience.workplaces,
        languages=audience.languages,
        channels=audience.channels,
    )


async def count(session: AsyncSession, audience: Audience) -> tuple[int, int]:
    """The exact number of recipients now: (reachable, known to have left)."""
    return await broadcasts.count(session, await filters(session, audience))


async def is_whole_federation(session: AsyncSession, audience: Audience) -> bool:
    """Whether a second admin must approve it: every broadcast on the root union, however
    narrowed. Wards and workplaces cut across the unions, so ticking them on the root still
    addresses the whole federation (every ward ticked reaches whoever filed anywhere), and
    whether a choice of them leaves anyone out changes as people file: a rule on what the
    ticks exclude would let the whole federation through unapproved."""
    root = await unions.root(session)
    return root is not None and audience.union_id == root.id


async def may_send_to(session: AsyncSession, officer: Officer, union_id: int) -> bool:
    """Admins reach everyone; officers their own union and those below it."""
    if officer.role == "admin":
        return True
    return union_id in await access.below(session, officer.union_id)


def clean(draft: Draft) -> Draft:
    """The draft with its texts trimmed; BroadcastError when it cannot be sent."""
    text = draft.text.strip()
    english = (draft.text_en or "").strip() or None
    link = (draft.link or "").strip() or None
    if not text:
        raise BroadcastError(N_("Write the message in Vietnamese."))
    if len(text) > MAX_BODY or len(english or "") > MAX_BODY:
        raise BroadcastError(N_("The message is too long for one message on a phone."))
    if link is not None:
        parts = urlsplit(link)
        if parts.scheme not in ("https", "http") or not parts.netloc or len(link) > MAX_LINK:
            raise BroadcastError(N_("The link must be a web address starting with https://."))
    audience = draft.audience
    if audience.topic not in TOPICS:
        raise BroadcastError(N_("Choose what kind of news this is."))
    if not audience.channels or not audience.channels <= set(CHANNELS):
        raise BroadcastError(N_("Choose at least one messenger."))
    if not audience.languages <= set(LANGUAGES):
        raise BroadcastError(N_("Choose the workers' language from the list."))
    options = poll_options(draft.poll_options)
    return replace(draft, text=text, text_en=english, link=link, poll_options=options)


def poll_options(typed: Sequence[str]) -> tuple[str, ...]:
    """A quick poll's answers as typed, trimmed, empty lines left out; () for no poll.
    BroadcastError when they cannot make one."""
    options = tuple(" ".join(option.split()) for option in typed)
    options = tuple(option for option in options if option)
    if not options:
        return ()
    if len(options) < 2:
        raise BroadcastError(N_("A quick poll needs at least 2 answers."))
    if len(options) > POLL_OPTIONS:
        raise BroadcastError(N_("A quick poll has at most 6 answers."))
    if any(len(option) > MAX_ANSWER for option in options):
        raise BroadcastError(N_("Keep each answer to 40 characters, so that it fits on a button."))
    if len({option.casefold() for option in options}) < len(options):
        raise BroadcastError(N_("Each answer of the poll must be different."))
    return options


def picture(data: bytes) -> Picture:
    """An uploaded image as a broadcast sends it: a JPEG or PNG, re-encoded from its pixels
    alone (EXIF, GPS and comments gone), small enough for every messenger. BroadcastError
    says what is wrong with it. CPU work on untrusted bytes: call it in a thread."""
    if len(data) > MAX_IMAGE_BYTES:
        raise BroadcastError(N_("The image is too large: at most 5 MB."))
    if not data.startswith(IMAGE_SIGNATURES):
        raise BroadcastError(N_("The image must be a JPEG or PNG picture."))
    try:
        for side in IMAGE_SIDES:
            content = scrubber.scrub_image(data, max_side=side)
            if len(content) <= MAX_IMAGE_SENT:
                break
        with Image.open(io.BytesIO(content)) as header:
            size = header.size
    except scrubber.Unusable as exc:
        if exc.reason == "too_many_pixels":
            raise BroadcastError(
                N_("The image has too many pixels: at most 16 million (a photo from a phone).")
            ) from None
        raise BroadcastError(N_("The image could not be read as a JPEG or PNG picture.")) from None
    return Picture(content, *size)


def picture_tag(services: Services, image: Picture) -> str:
    """A keyed hash of a picture already made (`picture`): the compose form carries it from
    one step to the next with the picture, so it is taken back without doing it again, and a
    form that changed it is refused."""
    return services.vault.tag("broadcast image\0" + hashlib.sha256(image.content).hexdigest())


def kept_picture(services: Services, content: bytes, tag: str) -> Picture:
    """A picture carried by the form with its tag; BroadcastError if either was changed."""
    if not hmac.compare_digest(picture_tag(services, Picture(content, 0, 0)), tag):
        raise BroadcastError(N_("The image was changed on the way. Choose it again."))
    with Image.open(io.BytesIO(content)) as header:
        return Picture(content, *header.size)


async def compose(
    session: AsyncSession, officer: Officer, draft: Draft, now: datetime
) -> Broadcast:
    """Save a broadcast to send at its time; to the whole federation it first waits for a
    second admin. Audited."""
    draft = clean(draft)
    audience = draft.audience
    if not await may_send_to(session, officer, audience.union_id):
        raise BroadcastError(N_("You can only send to your own union and the unions below it."))
    whole = await is_whole_federation(session, audience)
    broadcast = await broadcasts.add(
        session,
        union_id=audience.union_id,
        author_id=officer.id,
        topic=audience.topic,
        text=draft.text,
        text_en=draft.text_en,
        link=draft.link,
        audience=audience.to_json(),
        whole_federation=whole,
        status="awaiting_approval" if whole else "scheduled",
        send_at=draft.send_at or now,
        created_at=now,
        # Only a poll sets it: a plain message keeps SQL NULL, never JSON null.
        **({"poll_options": list(draft.poll_options)} if draft.poll_options else {}),
    )
    if draft.image is not None:
        await broadcasts.add_image(session, broadcast.id, draft.image.content, draft.image.size)
    poll = {"poll": len(draft.poll_options)} if draft.poll_options else {}
    image = {"image": True} if draft.image is not None else {}
    _audit(session, officer, "broadcast.created", broadcast, now, whole=whole, **poll, **image)
    return broadcast


async def approve(
    session: AsyncSession, officer: Officer, broadcast_id: int, now: datetime
) -> Broadcast:
    """A second admin approves a broadcast to the whole federation; it then goes at its
    time."""
    broadcast = await broadcasts.get(session, broadcast_id)
    if broadcast is None or broadcast.status != "awaiting_approval":
        raise BroadcastError(N_("This broadcast is not waiting for approval."))
    if officer.role != "admin":
        raise BroadcastError(N_("Only an admin can approve a broadcast to the whole federation."))
    if officer.id == broadcast.author_id:
        raise BroadcastError(N_("A second admin must approve it, not its author."))
    moved = await broadcasts.move(
        session,
        broadcast.id,
        ["awaiting_approval"],
        "scheduled",
        approved_by=officer.id,
        approved_at=now,
        send_at=max(broadcast.send_at, now),
    )
    if not moved:
        raise BroadcastError(N_("This broadcast is not waiting for approval."))
    _audit(session, officer, "broadcast.approved", broadcast, now)
    await session.refresh(broadcast)
    return broadcast


async def approval_requests(
    session: AsyncSession, services: Services, author: Officer, broadcast: Broadcast
) -> list[Outgoing]:
    """The request to approve a broadcast waiting for a second admin, for every other
    active admin linked on Telegram, with a one-tap Approve (bc:approve:<id>); [] when there
    is nobody to ask. Composed on Telegram or on the dashboard, the same request goes."""
    others = [a for a in await officers.admins_to_notify(session) if a.id != author.id]
    if not others:
        return []
    reachable, _left = await count(session, Audience.of(broadcast))
    with services.catalogs.activate(services.settings.default_language):
        asked = _(
            "{name} asks you to approve a broadcast to the whole federation (#{id}, “{topic}”, "
            "{count} workers now). The workers will receive:"
        ).format(name=author.name, id=broadcast.id, topic=_(TOPICS[broadcast.topic]),
                 count=reachable)  # fmt: skip
        how = _("Press Approve below, or send /duyet {id}.").format(id=broadcast.id)
        text = "\n\n".join([asked, text_for(services, broadcast, "vi"), how])
        button = Button(_("Approve"), BroadcastAction("approve", broadcast.id).pack())
    channel = services.settings.officer_channel
    return [
        Outgoing(Address(channel, str(admin.telegram_user_id)), text, ((button,),))
        for admin in others
    ]


# action -> (the statuses it applies to, the status it leads to)
CHANGES: dict[str, tuple[tuple[str, ...], str]] = {
    "pause": (("scheduled", "sending"), "paused"),
    "resume": (("paused",), "sending"),
}


async def change(
    session: AsyncSession, officer: Officer, broadcast_id: int, action: str, now: datetime
) -> bool:
    """Pause, resume or cancel a broadcast one may manage; False when it is not in a state
    for that. Audited."""
    broadcast = await visible(session, officer, broadcast_id)
    if broadcast is None:
        return False
    if action == "cancel":
        changed = await broadcasts.cancel(session, broadcast.id, now)
    elif action in CHANGES:
        from_, to = CHANGES[action]
        if action == "resume" and broadcast.started_at is None:
            to = "scheduled"
        changed = await broadcasts.move(session, broadcast.id, from_, to)
    else:
        return False
    if changed:
        _audit(session, officer, f"broadcast.{action}", broadcast, now)
    return changed


async def visible(session: AsyncSession, officer: Officer, broadcast_id: int) -> Broadcast | None:
    """The broadcast if the officer may see and manage it (admins: all; officers: those to
    their union's subtree); None otherwise, as if it did not exist."""
    broadcast = await broadcasts.get(session, broadcast_id)
    if broadcast is None or not await may_send_to(session, officer, broadcast.union_id):
        return None
    return broadcast


async def listed(session: AsyncSession, officer: Officer) -> list[Broadcast]:
    """The broadcasts an officer may see, newest first."""
    scope = None if officer.role == "admin" else await access.below(session, officer.union_id)
    return list(await broadcasts.listed(session, scope))


def text_for(services: Services, broadcast: Broadcast | Draft, language: str) -> str:
    """The message as a worker in `language` reads it: the text (English when written and
    theirs), the link, and how to stop receiving."""
    body = broadcast.text_en if language == "en" and broadcast.text_en else broadcast.text
    with services.catalogs.activate(language):
        footer = _("To stop receiving these messages, send /dung.")
    parts = [body]
    if broadcast.link:
        parts.append(broadcast.link)
    parts.append(footer)
    return "\n\n".join(parts)


def test_message(services: Services, officer: Officer, draft: Draft) -> Outgoing:
    """The draft as a worker would get it (its image too), sent to the officer's own
    Telegram chat."""
    if not officer.telegram_user_id:
        raise BroadcastError(
            N_("Link your Telegram first (an admin gives you a code): the test goes there.")
        )
    draft = clean(draft)
    text = text_for(services, draft, "vi")
    with services.catalogs.activate("vi"):
        label = _("Test of a broadcast, only you received it:")
    address = Address(services.settings.officer_channel, officer.telegram_user_id)
    # A poll's buttons as workers get them; pressed here, they count nothing (no poll 0).
    image = draft.image.content if draft.image is not None else None
    return Outgoing(
        address, f"{label}\n\n{text}", polls.buttons(0, draft.poll_options), image=image
    )


async def progress(session: AsyncSession, broadcast: Broadcast, now: datetime) -> Progress:
    """Counts by outcome, the rate over the last minute and the expected end."""
    tally = await broadcasts.tally(session, broadcast.id)
    by_status: dict[str, int] = {}
    reasons: dict[str, int] = {}
    for (status, reason), n in tally.items():
        by_status[status] = by_status.get(status, 0) + n
        if reason and status != "sent":
            reasons[reason] = reasons.get(reason, 0) + n
    pending = by_status.get("pending", 0) + by_status.get("sending", 0)
    window = timedelta(seconds=60)
    if broadcast.started_at is not None and now - broadcast.started_at < window:
        window = max(now - broadcast.started_at, timedelta(seconds=1))
    recent = await broadcasts.sent_since(session, broadcast.id, now - window)
    rate = recent / window.total_seconds()
    sending = broadcast.status == "sending"
    end = now + timedelta(seconds=pending / rate) if sending and rate > 0 and pending else None
    return Progress(
        total=broadcast.total if broadcast.started_at else sum(by_status.values()),
        sent=by_status.get("sent", 0),
        pending=pending,
        failed=by_status.get("failed", 0),
        unreachable=by_status.get("unreachable", 0),
        uncertain=by_status.get("uncertain", 0),
        skipped=by_status.get("skipped", 0),
        reasons=reasons,
        rate=rate,
        expected_end=end,
    )


async def finished(
    session: AsyncSession, services: Services, broadcast_id: int, now: datetime
) -> list[Outgoing]:
    """The author's note on Telegram (if linked) that a broadcast has finished, with its
    counts; nothing when they have no linked account."""
    broadcast = await broadcasts.get(session, broadcast_id)
    author = await session.get(Officer, broadcast.author_id) if broadcast else None
    if broadcast is None or author is None or not author.telegram_user_id or not author.active:
        return []
    done = await progress(session, broadcast, now)
    with services.catalogs.activate(services.settings.default_language):
        text = _(
            "Broadcast #{id} has finished: {sent} of {total} sent, {unreachable} could not be "
            "reached, {failed} failed. The report is on the dashboard."
        ).format(
            id=broadcast.id, sent=done.sent, total=done.total,
            unreachable=done.unreachable, failed=done.failed,
        )  # fmt: skip
    address = Address(services.settings.officer_channel, author.telegram_user_id)
    return [Outgoing(address, text)]


def quiet_until(now: datetime, hours: tuple[time, time] | None) -> datetime | None:
    """When quiet hours (local time, possibly over midnight) end, if `now` is in them."""
    return None if hours is None else window_end(now, hours)


def _audit(
    session: AsyncSession,
    officer: Officer,
    action: str,
    broadcast: Broadcast,
    now: datetime,
    **detail: Any,
) -> None:
    audit.record(
        session,
        actor="officer",
        officer_id=officer.id,
        action=action,
        now=now,
        detail={"broadcast": broadcast.id, **detail},
    )
