"""The dashboard's broadcasts, /officer/broadcasts: the list an officer may see, the form to
compose one (count its audience, send oneself a test, send), a broadcast's page with its
progress refreshed every 2 seconds (static/broadcasts.js reads progress.json), the
approval of a broadcast to the whole federation, pause, resume and cancel, and a printable
report. A broadcast may be a quick poll (2 to 6 answers as buttons): its page and report then
show the results (bot/web/polls.py).

What may be sent to whom, the two-person rule and the audit are bot/services/broadcasts.py;
bot/broadcaster.py delivers. A broadcast out of the officer's reach is answered exactly like
one that does not exist. The exact number of recipients is shown before a broadcast is saved:
"Send" asks for a confirmation with the count, and the confirmation is refused if the count
has changed since (then the new one is shown).

A broadcast may carry an image (JPEG or PNG): re-encoded without its metadata as soon as it
is uploaded (bot/services/broadcasts.picture), then carried from one step of the form to the
next with a keyed hash, so the officer chooses it once and a changed one is refused. Its page
and report show it (/officer/broadcasts/{id}/image.jpg).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from babel.numbers import format_decimal

from bot.services import broadcasts
from bot.services.broadcasts import TOPICS, Audience, BroadcastError, Draft, Picture, Progress
from bot.services.i18n import N_, _, current_language, format_datetime
from bot.services.text import whole_number
from bot.web import polls
from bot.web.pages import SECURITY_HEADERS, Form, Page, redirect
from storage import broadcasts as stored
from storage import unions
from storage.broadcasts import CHANNELS
from storage.localtime import LOCAL_TIME
from storage.models import POLL_OPTIONS, Broadcast, Officer

STATUS_NAMES = {
    "awaiting_approval": N_("Waiting for approval"),
    "scheduled": N_("Scheduled"),
    "sending": N_("Sending"),
    "paused": N_("Paused"),
    "cancelled": N_("Cancelled"),
    "done": N_("Finished"),
}
FINISHED = ("cancelled", "done")
# Deliveries by outcome (storage.broadcasts), in the order they are shown.
OUTCOMES = {
    "sent": N_("Sent successfully"),
    "pending": N_("Still to send"),
    "failed": N_("Failed"),
    "unreachable": N_("Cannot be reached"),
    "uncertain": N_("Uncertain: may have arrived, not sent again"),
    "skipped": N_("Not sent"),
}
# Why a delivery was not sent, as bot/broadcaster.py and storage record it; a reason without
# a label here is shown as its code.
REASONS = {
    "left": N_("left the bot (blocked it)"),
    "blocked": N_("left the bot (blocked it)"),
    "erased": N_("erased their data"),
    "stopped": N_("stopped receiving news before their turn came"),
    "cancelled": N_("the broadcast was cancelled"),
    "interrupted": N_("interrupted while sending"),
    "window_closed": N_("outside Zalo's window (48 hours after their last message)"),
    "not_following": N_("does not follow the union's Zalo account"),
    "inactive": N_("inactive on Zalo"),
    "rate_limited": N_("the messenger asked to slow down; tried again"),
    "partly_sent": N_("only the image arrived: the text after it could not be sent"),
    "promotion_hours": N_("waiting for the hours Zalo allows news messages in; goes then"),
    "promotion_today": N_("already got a Zalo news message today; goes tomorrow"),
    "promotion_quota": N_("already got this month's Zalo news messages"),
}
LANGUAGE_NAMES = {"vi": N_("Vietnamese"), "en": N_("English")}
CHANNEL_NAMES = {"telegram": "Telegram", "zalo": "Zalo"}
# Which actions apply in which status (the buttons shown; the service decides).
ACTIONS = {
    "pause": ("scheduled", "sending"),
    "resume": ("paused",),
    "cancel": ("awaiting_approval", "scheduled", "sending", "paused"),
}
# What a broadcast's page says after an action (?done=...).
DONE = {
    "created": N_("Saved. It goes out at the time shown below."),
    "awaiting": N_(
        "Saved. It goes to the whole federation, so a second admin must approve it before "
        "it is sent."
    ),
    "asked": N_(
        "Saved. It goes to the whole federation, so a second admin must approve it before "
        "it is sent: the other admins have been asked on Telegram."
    ),
    "approve": N_("Approved. It goes out at the time shown below."),
    "pause": N_("Paused. Nothing more is sent until you resume it."),
    "resume": N_("Resumed."),
    "cancel": N_("Cancelled. What was not sent yet will not be sent."),
}
OUT_OF_LIST = N_("Choose wards and workplaces from the list.")
OUT_OF_REACH = N_("You can only send to your own union and the unions below it.")
# The poll's answer fields read from a form (more than POLL_OPTIONS: refused as too many).
POLL_FIELDS = POLL_OPTIONS + 1
BAD_TIME = N_("Choose the time with the date and time picker, or leave it empty to send now.")
NOT_A_FILE = N_("Choose the image with the form's button for it.")


def _officer(current: Page) -> Officer:
    assert current.login is not None
    return current.login.officer


# ---------------------------------------------------------------------------- names


@dataclass(frozen=True, slots=True)
class Names:
    """The directory's names by id, for what a broadcast's audience shows."""

    unions: dict[int, str]
    wards: dict[int, str]
    workplaces: dict[int, str]

    def parts(self, audience: Audience) -> dict[str, list[str]]:
        """Each part of an audience by name (an empty list: not narrowed), translated."""
        return {
            "union": [self.unions.get(audience.union_id, f"#{audience.union_id}")],
            "topic": [_(TOPICS.get(audience.topic, audience.topic))],
            "wards": sorted(self.wards.get(i, f"#{i}") for i in audience.wards),
            "workplaces": sorted(self.workplaces.get(i, f"#{i}") for i in audience.workplaces),
            "languages": [_(LANGUAGE_NAMES.get(x, x)) for x in sorted(audience.languages)],
            "channels": [CHANNEL_NAMES.get(x, x) for x in sorted(audience.channels)],
        }

    def audience(self, audience: Audience) -> list[tuple[str, str]]:
        """(what, which) for each part of an audience, as the broadcast's page lists it."""
        parts = self.parts(audience)
        return [
            (_("Union"), parts["union"][0]),
            (_("Kind of news"), parts["topic"][0]),
            (_("Wards"), ", ".join(parts["wards"]) or _("Any")),
            (_("Workplaces"), ", ".join(parts["workplaces"]) or _("Any")),
            (_("Languages"), ", ".join(parts["languages"]) or _("All")),
            (_("Messengers"), ", ".join(parts["channels"])),
        ]

    def summary(self, audience: Audience) -> str:
        """The audience on one line: what narrows it, and nothing that does not."""
        return " · ".join(", ".join(names) for names in self.parts(audience).values() if names)


async def names(current: Page) -> Names:
    session = current.session
    union_rows = (await session.scalars(unions.all_unions_query())).all()
    workplaces, wards = await unions.places(session, None)
    return Names({u.id: u.name for u in union_rows}, dict(wards), dict(workplaces))


# ---------------------------------------------------------------------------- the form


@dataclass(slots=True)
class Fields:
    """The compose form as posted, shown again as it was whatever was wrong with it."""

    text: str = ""
    text_en: str = ""
    link: str = ""
    topic: str = "policy"
    union: str = ""
    wards: list[str] = field(default_factory=list)
    workplaces: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=lambda: list(CHANNELS))
    send_at: str = ""
    # A quick poll's answers as typed (empty lines: none).
    poll: list[str] = field(default_factory=list)
    # The image already made from an upload, carried to the next step (base64) with its
    # keyed hash (broadcasts.picture_tag), and its size to show; empty: none.
    image: str = ""
    image_tag: str = ""
    image_size: tuple[int, int] | None = None

    @classmethod
    def of(cls, form: Form) -> Fields:
        def one(name: str) -> str:
            return str(form.get(name, ""))

        def many(name: str) -> list[str]:
            return [str(value) for value in form.getall(name, [])][:500]

        return cls(
            text=one("text"), text_en=one("text_en"), link=one("link"), topic=one("topic"),
            union=one("union"), wards=many("ward"), workplaces=many("workplace"),
            languages=many("language"), channels=many("channel"), send_at=one("send_at"),
            poll=many("poll_option")[:POLL_FIELDS], image=one("image_kept"),
            image_tag=one("image_tag"),
        )  # fmt: skip

    def carry(self, current: Page, image: Picture | None) -> None:
        """Carry `image` (or none) to the form's next step."""
        if image is None:
            self.image, self.image_tag, self.image_size = "", "", None
            return
        self.image = base64.b64encode(image.content).decode()
        self.image_tag = broadcasts.picture_tag(current.services, image)
        self.image_size = image.size


@dataclass(frozen=True, slots=True)
class Choices:
    """What the form offers this officer: the unions they may send to (admins: all), and the
    wards and workplaces within their reach."""

    unions: list[tuple[int, str]]
    wards: list[tuple[int, str]]
    workplaces: list[tuple[int, str]]


async def choices(current: Page) -> Choices:
    session = current.session
    officer = _officer(current)
    reach = None
    if officer.role != "admin":
        reach = (await current.scope()).unions
    every = (await session.scalars(unions.all_unions_query())).all()
    allowed = [(u.id, u.name) for u in every if reach is None or u.id in reach]
    workplaces, wards = await unions.places(session, reach)
    return Choices(allowed, wards, workplaces)


def draft_of(fields: Fields, offered: Choices, now: datetime, *, text_needed: bool) -> Draft:
    """The draft the form describes, checked (bot/services/broadcasts.clean); BroadcastError
    when it cannot be sent. Counting needs no text yet."""
    union = whole_number(fields.union)
    if union is None or union not in {i for i, _name in offered.unions}:
        raise BroadcastError(OUT_OF_REACH)
    wards = {whole_number(x) for x in fields.wards}
    workplaces = {whole_number(x) for x in fields.workplaces}
    if not wards <= {i for i, _n in offered.wards}:
        raise BroadcastError(OUT_OF_LIST)
    if not workplaces <= {i for i, _n in offered.workplaces}:
        raise BroadcastError(OUT_OF_LIST)
    audience = Audience(
        union_id=union,
        topic=fields.topic,
        wards=frozenset(i for i in wards if i is not None),
        workplaces=frozenset(i for i in workplaces if i is not None),
        languages=frozenset(fields.languages),
        channels=frozenset(fields.channels),
    )
    draft = Draft(
        audience, fields.text, fields.text_en, fields.link, send_at(fields.send_at, now),
        poll_options=tuple(fields.poll),
    )  # fmt: skip
    if not text_needed and not draft.text.strip():
        checked = broadcasts.clean(replace(draft, text="-"))  # the audience and the rest
        return replace(checked, text=draft.text)
    return broadcasts.clean(draft)


async def picture_of(current: Page, fields: Fields) -> Picture | None:
    """The image the form brings: a new upload, made into a broadcast's image (in a thread:
    decoding is CPU work on untrusted bytes); else the one carried from the last step, if
    its keyed hash matches; None when there is none or it is removed. BroadcastError says
    what is wrong with it."""
    form = current.form
    if form.get("image_remove"):
        return None
    upload = form.get("image")
    if isinstance(upload, web.FileField):
        data = upload.file.read(broadcasts.MAX_IMAGE_BYTES + 1)
        if data:
            return await asyncio.to_thread(broadcasts.picture, data)
    elif upload:  # a value where the form has a file: not sent by the form
        raise BroadcastError(NOT_A_FILE)
    if not fields.image:
        return None
    try:
        content = base64.b64decode(fields.image, validate=True)
        return broadcasts.kept_picture(current.services, content, fields.image_tag)
    except (binascii.Error, ValueError, OSError):
        raise BroadcastError(N_("The image was changed on the way. Choose it again.")) from None


def send_at(value: str, now: datetime) -> datetime | None:
    """The form's time to send (Vietnam time, from a datetime-local field); None: now."""
    text = value.strip()
    if not text:
        return None
    try:
        local = datetime.fromisoformat(text)
        if local.tzinfo is not None or len(text) > 19:
            raise ValueError(text)
        moment = local.replace(tzinfo=LOCAL_TIME).astimezone(now.tzinfo)
    except (ValueError, OverflowError):
        raise BroadcastError(BAD_TIME) from None
    if moment < now - timedelta(minutes=1):
        raise BroadcastError(N_("That time has passed. Choose a later one, or leave it empty."))
    return max(moment, now)


@dataclass(frozen=True, slots=True)
class Counted:
    """The exact audience now, and what the form says about it."""

    reachable: int
    left: int
    whole: bool  # to the whole federation: a second admin approves it
    quiet_until: datetime | None  # quiet hours hold the start until then
    confirm: bool = False  # the "Send" step: confirm to save it
    poll: tuple[str, ...] = ()  # a quick poll's answers, shown as its buttons


async def counted(current: Page, draft: Draft, *, confirm: bool = False) -> Counted:
    session = current.session
    reachable, left = await broadcasts.count(session, draft.audience)
    quiet = broadcasts.quiet_until(
        draft.send_at or current.now, current.services.settings.quiet_hours
    )
    whole = await broadcasts.is_whole_federation(session, draft.audience)
    return Counted(reachable, left, whole, quiet, confirm, draft.poll_options)


async def compose_page(
    current: Page, fields: Fields | None = None, *, count: Counted | None = None,
    notice: str | None = None, error: str | None = None, status: int = 200,
) -> web.Response:  # fmt: skip
    """The compose form, with what the last button found."""
    if fields is None:
        fields = Fields(union=str(_officer(current).union_id))
    return current.render(
        "broadcast_new.html", status=status, fields=fields, offered=await choices(current),
        topics=TOPICS, languages=LANGUAGE_NAMES, channels=CHANNEL_NAMES, count=count,
        notice=notice, error=error, max_text=broadcasts.MAX_BODY, max_link=broadcasts.MAX_LINK,
        poll_fields=[*fields.poll, *[""] * POLL_OPTIONS][:POLL_OPTIONS],
        max_answer=broadcasts.MAX_ANSWER,
    )  # fmt: skip


async def compose_form(current: Page) -> web.StreamResponse:
    """GET /officer/broadcasts/new."""
    return await compose_page(current)


async def compose_submit(current: Page) -> web.StreamResponse:
    """POST /officer/broadcasts/new: action=count | test | send | confirm (with the count
    confirmed). Whatever is wrong is shown on the form as it was; nothing is saved."""
    fields = Fields.of(current.form)
    action = str(current.form.get("action", ""))
    try:
        image = await picture_of(current, fields)
        fields.carry(current, image)
        draft = draft_of(fields, await choices(current), current.now, text_needed=action != "count")
        draft = replace(draft, image=image)
        if action == "count":
            return await compose_page(current, fields, count=await counted(current, draft))
        if action == "test":
            officer = _officer(current)
            current.send([broadcasts.test_message(current.services, officer, draft)])
            notice = _("A test went to your Telegram: check how it reads there.")
            return await compose_page(current, fields, notice=notice)
        if action == "send":
            count = await counted(current, draft, confirm=True)
            return await compose_page(current, fields, count=count)
        if action == "confirm":
            return await confirm(current, fields, draft)
        raise BroadcastError(N_("Use one of the form's buttons."))
    except BroadcastError as problem:
        current.work.discard()
        if fields.image and fields.image_size is None:  # not taken back: choose it again
            fields.carry(current, None)
        return await compose_page(current, fields, error=_(str(problem)), status=400)


async def confirm(current: Page, fields: Fields, draft: Draft) -> web.StreamResponse:
    """Save the broadcast if its audience is still the number the officer confirmed."""
    count = await counted(current, draft, confirm=True)
    if whole_number(current.form.get("counted")) != count.reachable:
        error = _("The number of recipients has changed. Check it and confirm again.")
        return await compose_page(current, fields, count=count, error=error, status=409)
    officer = _officer(current)
    broadcast = await broadcasts.compose(current.session, officer, draft, current.now)
    done = "created"
    if broadcast.status == "awaiting_approval":
        # The other admins are asked on Telegram, as when it is composed there (/thongbao).
        services = current.services
        asked = await broadcasts.approval_requests(current.session, services, officer, broadcast)
        current.send(asked)
        done = "asked" if asked else "awaiting"
    return redirect(f"/officer/broadcasts/{broadcast.id}?done={done}")


# ---------------------------------------------------------------------------- the list


async def list_page(current: Page) -> web.StreamResponse:
    """GET /officer/broadcasts: the broadcasts this officer may see, newest first."""
    session = current.session
    found = await broadcasts.listed(session, _officer(current))
    sent = await stored.sent_counts(session, [b.id for b in found])
    known = await names(current)
    rows = [
        {
            "broadcast": b,
            "audience": known.summary(Audience.of(b)),
            "sent": sent.get(b.id, 0),
        }
        for b in found
    ]
    return current.render("broadcasts.html", rows=rows, status_names=STATUS_NAMES)


# ---------------------------------------------------------------------------- one broadcast


async def _broadcast(current: Page) -> Broadcast | None:
    """The broadcast in the URL, if this officer may see it."""
    broadcast_id = whole_number(current.request.match_info.get("id"))
    if broadcast_id is None:
        return None
    return await broadcasts.visible(current.session, _officer(current), broadcast_id)


def _missing(current: Page) -> web.Response:
    return current.refuse(404, _("No such broadcast."))


def progress_data(broadcast: Broadcast, progress: Progress) -> dict[str, Any]:
    """A broadcast's progress as its page shows it (and progress.json sends it)."""
    rate = format_decimal(progress.rate, "0.#", locale=current_language())
    return {
        "status": broadcast.status,
        "status_label": _(STATUS_NAMES[broadcast.status]),
        "total": progress.total,
        "done": progress.done,
        **{outcome: getattr(progress, outcome) for outcome in OUTCOMES},
        "reasons": [
            {"reason": code, "label": _(REASONS[code]) if code in REASONS else code, "count": n}
            for code, n in sorted(progress.reasons.items(), key=lambda item: -item[1])
        ],
        "rate": round(progress.rate, 2),
        "rate_text": _("{rate} a second").format(rate=rate),
        "expected_end": format_datetime(progress.expected_end) if progress.expected_end else None,
        "finished": broadcast.status in FINISHED,
    }


async def _facts(current: Page, broadcast: Broadcast) -> dict[str, Any]:
    """What the broadcast's page and its report show."""
    session = current.session
    author = await session.get(Officer, broadcast.author_id) if broadcast.author_id else None
    approver = await session.get(Officer, broadcast.approved_by) if broadcast.approved_by else None
    progress = await broadcasts.progress(session, broadcast, current.now)
    return {
        "broadcast": broadcast,
        "author": author.name if author else "—",
        "approver": approver.name if approver else None,
        "audience": (await names(current)).audience(Audience.of(broadcast)),
        "preview": broadcasts.text_for(current.services, broadcast, "vi"),
        "preview_en": (
            broadcasts.text_for(current.services, broadcast, "en") if broadcast.text_en else None
        ),
        "p": progress_data(broadcast, progress),
        "outcomes": OUTCOMES,
        "status_names": STATUS_NAMES,
        "poll": await polls.results(current, broadcast),
        "image_size": await stored.image_size(session, broadcast.id),
    }


async def broadcast_page(
    current: Page, error: str | None = None, status: int = 200
) -> web.StreamResponse:
    """GET /officer/broadcasts/{id}."""
    broadcast = await _broadcast(current)
    if broadcast is None:
        return _missing(current)
    officer = _officer(current)
    done = str(current.request.query.get("done", ""))
    return current.render(
        "broadcast.html", status=status, **await _facts(current, broadcast),
        may_approve=(
            broadcast.status == "awaiting_approval" and officer.role == "admin"
            and officer.id != broadcast.author_id
        ),
        is_author=officer.id == broadcast.author_id, actions=ACTIONS,
        notice=_(DONE[done]) if done in DONE else None, error=error,
    )  # fmt: skip


async def progress_json(current: Page) -> web.StreamResponse:
    """GET /officer/broadcasts/{id}/progress.json: what the page's script shows."""
    broadcast = await _broadcast(current)
    if broadcast is None:
        return web.json_response(
            {"error": _("No such broadcast.")}, status=404, headers=SECURITY_HEADERS
        )
    progress = await broadcasts.progress(current.session, broadcast, current.now)
    return web.json_response(progress_data(broadcast, progress), headers=SECURITY_HEADERS)


async def broadcast_action(current: Page) -> web.StreamResponse:
    """POST /officer/broadcasts/{id}/{action}: approve, pause, resume or cancel."""
    broadcast = await _broadcast(current)
    action = current.request.match_info.get("action", "")
    if broadcast is None or (action not in ACTIONS and action != "approve"):
        return _missing(current)
    officer = _officer(current)
    if action == "approve":
        try:
            await broadcasts.approve(current.session, officer, broadcast.id, current.now)
        except BroadcastError as problem:
            current.work.discard()
            return await broadcast_page(current, error=_(str(problem)), status=400)
    elif not await broadcasts.change(current.session, officer, broadcast.id, action, current.now):
        current.work.discard()
        error = _("That cannot be done now: the broadcast has moved on. See where it stands.")
        return await broadcast_page(current, error=error, status=409)
    return redirect(f"/officer/broadcasts/{broadcast.id}?done={action}")


async def report_page(current: Page) -> web.StreamResponse:
    """GET /officer/broadcasts/{id}/report: the final report, to print."""
    broadcast = await _broadcast(current)
    if broadcast is None:
        return _missing(current)
    return current.render(
        "broadcast_report.html", printed=current.now, **await _facts(current, broadcast)
    )


async def image(current: Page) -> web.StreamResponse:
    """GET /officer/broadcasts/{id}/image.jpg: the image the workers get with the text."""
    broadcast = await _broadcast(current)
    content = await stored.image(current.session, broadcast.id) if broadcast else None
    if content is None:
        return _missing(current)
    headers = {**SECURITY_HEADERS, "Cache-Control": "private, max-age=3600"}
    return web.Response(body=content, content_type="image/jpeg", headers=headers)
