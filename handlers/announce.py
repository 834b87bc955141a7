"""Broadcasts from Telegram: an officer's short form, and a second admin's approval.

- /thongbao TEXT (or /thongbao, then the text) drafts a message to the subscribed workers of
  the officer's own union and the unions below it (an admin of the root union: the whole
  federation). The bot shows exactly what workers will get, the recipients counted now, and
  buttons bc:topic:<n>:<topic> (the kind of news; policy first), bc:send:<n> and
  bc:drop:<n>. <n> is the preview's own number: a new text or topic makes a new preview,
  and the older one's buttons are stale. Sending saves the broadcast
  (bot/services/broadcasts.py compose); bot/broadcaster.py delivers it.
- A broadcast to the whole federation waits for a second admin: the other linked admins get
  it with a one-tap bc:approve:<id>; /duyet <id> does the same.

The draft (its text, topic and number) is the officer's conversation state while the flow
lasts; nothing is saved before "Send". This short form is text only: a broadcast with an
image or a link is composed on the dashboard (a photo sent here is not taken as one).
Whoever is not a linked active officer sees the commands as unknown and the buttons as
stale.
"""

from __future__ import annotations

import secrets
import typing
from typing import Any

from bot.services import broadcasts
from bot.services.broadcasts import MAX_BODY, TOPICS, Audience, BroadcastError, Draft
from bot.services.i18n import _, format_datetime
from bot.services.text import whole_number
from handlers import menu
from handlers.officer import officer_of
from handlers.payloads import BroadcastAction, BroadcastTopic
from handlers.types import Address, Button, Context, Incoming, Keyboard, Outgoing, StaleButton
from storage.models import Broadcast, Officer, Union

assert set(typing.get_args(BroadcastTopic)) == set(TOPICS)

FLOW = "announce"
DRAFT = "announcement"
DEFAULT_TOPIC = "policy"
MAX_NUMBER = 10**9
PROGRESS_PATH = "/officer/broadcasts/{id}"


def _private(ctx: Context, officer: Officer) -> Address:
    """The officer's own chat: a press elsewhere (a forwarded message) is answered there."""
    return Address(
        ctx.services.settings.officer_channel, str(officer.telegram_user_id), ctx.person.id
    )


def _progress(ctx: Context, broadcast: Broadcast) -> str:
    """Where the dashboard shows the broadcast's progress."""
    path = PROGRESS_PATH.format(id=broadcast.id)
    return f"{ctx.services.settings.public_url or ''}{path}"


# ---------------------------------------------------------------------------- composing


async def start(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """/thongbao [TEXT]: the preview of TEXT, or the question for it."""
    officer = await officer_of(ctx)
    if officer is None:
        return await menu.unknown_command(ctx, msg)
    ctx.end_flow()
    parts = (msg.text or "").split(maxsplit=1)
    text = parts[1].strip() if len(parts) > 1 else ""
    if not text:
        ctx.state["flow"] = FLOW
        ask = _(
            "Write the message for the workers in one message (at most {limit} characters). "
            "You will see it exactly as they will before anything is sent. Send /huy to stop."
        )
        return [ctx.reply(ask.format(limit=MAX_BODY))]
    return await _take(ctx, officer, text, DEFAULT_TOPIC)


async def on_text(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """The message's text, after /thongbao; a new text replaces the draft's."""
    officer = await officer_of(ctx)
    if officer is None:
        ctx.end_flow()
        return [ctx.reply(_("What do you need? Choose one below."), menu.main_menu())]
    text = (msg.text or "").strip()
    if not text:
        return [ctx.reply(_("Please write it as text. Send /huy to stop."))]
    held = ctx.state.get(DRAFT)
    topic = held.get("topic") if isinstance(held, dict) else None
    return await _take(ctx, officer, text, topic if topic in TOPICS else DEFAULT_TOPIC)


async def _take(ctx: Context, officer: Officer, text: str, topic: str) -> list[Outgoing]:
    """A text for the draft: refused when it cannot be sent (the flow waits for another),
    else previewed."""
    ctx.state["flow"] = FLOW
    if len(text) > MAX_BODY:
        ctx.state.pop(DRAFT, None)
        too_long = _(
            "That is too long for one message on a phone: {length} characters, at most "
            "{limit}. Please shorten it and send it again."
        )
        return [ctx.reply(too_long.format(length=len(text), limit=MAX_BODY))]
    try:
        broadcasts.clean(Draft(Audience(officer.union_id, topic), text))
    except BroadcastError as error:
        ctx.state.pop(DRAFT, None)
        return [ctx.reply(_(str(error)))]
    return await _preview(ctx, officer, text, topic)


async def _preview(ctx: Context, officer: Officer, text: str, topic: str) -> list[Outgoing]:
    """What workers will get, how many of them, and the buttons; the draft is kept under a
    new number."""
    number = secrets.randbelow(MAX_NUMBER)
    ctx.state["flow"] = FLOW
    ctx.state[DRAFT] = {"text": text, "topic": topic, "number": number}
    audience = Audience(officer.union_id, topic)
    reachable, _left = await broadcasts.count(ctx.session, audience)
    whole = await broadcasts.is_whole_federation(ctx.session, audience)
    union = await ctx.session.get(Union, officer.union_id)
    name = union.name if union is not None else "-"
    to = (
        _("Recipients: {count} workers across the whole federation who subscribed to “{topic}”.")
        if whole
        else _("Recipients: {count} workers who subscribed to “{topic}”, linked to {union} "
               "and the unions below it.")
    )  # fmt: skip
    lines = [
        _("Preview: the workers will receive exactly this message:"),
        broadcasts.text_for(ctx.services, Draft(audience, text), "vi"),
        to.format(count=reachable, topic=_(TOPICS[topic]), union=name),
    ]
    if whole:
        lines.append(_("It goes to the whole federation: a second admin must approve it first."))
    quiet = broadcasts.quiet_until(ctx.now, ctx.services.settings.quiet_hours)
    if quiet is not None:
        later = _("It is quiet hours now, so it will not go out before {time}.")
        lines.append(later.format(time=format_datetime(quiet)))
    lines.append(_("Choose the kind of news, then press Send. To change the text, send it again."))
    return [ctx.reply("\n\n".join(lines), _keyboard(number, topic))]


def _keyboard(number: int, chosen: str) -> Keyboard:
    rows = []
    for topic, label in TOPICS.items():
        mark = "✓ " if topic == chosen else ""
        payload = BroadcastAction("topic", number, typing.cast(BroadcastTopic, topic)).pack()
        rows.append((Button(mark + _(label), payload),))
    send = Button(_("Send"), BroadcastAction("send", number).pack())
    drop = Button(_("Cancel"), BroadcastAction("drop", number).pack())
    return (*rows, (send, drop))


# ---------------------------------------------------------------------------- buttons


async def on_button(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """bc:topic:<n>:<topic>, bc:send:<n>, bc:drop:<n> (a draft), bc:approve:<id>."""
    pressed = BroadcastAction.unpack(msg.payload)
    officer = await officer_of(ctx)
    if officer is None or (pressed.topic is not None) != (pressed.verb == "topic"):
        raise StaleButton(msg.payload)
    ctx.address = _private(ctx, officer)
    if pressed.verb == "approve":
        return await _approve(ctx, officer, pressed.number)
    held = _held(ctx, pressed.number)
    if held is None:
        raise StaleButton(msg.payload)
    if pressed.verb == "drop":
        ctx.end_flow()
        return [ctx.reply(_("Cancelled. Nothing was sent."))]
    if pressed.topic is not None:
        return await _preview(ctx, officer, held["text"], pressed.topic)
    return await _send(ctx, officer, held)


def _held(ctx: Context, number: int) -> dict[str, Any] | None:
    """The draft whose preview showed button number `number`, if it is still the one held."""
    held = ctx.state.get(DRAFT)
    if ctx.state.get("flow") != FLOW or not isinstance(held, dict):
        return None
    if held.get("number") != number or not isinstance(held.get("text"), str):
        return None
    return held if held.get("topic") in TOPICS else None


async def _send(ctx: Context, officer: Officer, held: dict[str, Any]) -> list[Outgoing]:
    # Text only (no image, no link): those are the dashboard's compose form.
    draft = Draft(Audience(officer.union_id, str(held["topic"])), str(held["text"]))
    ctx.end_flow()
    try:
        broadcast = await broadcasts.compose(ctx.session, officer, draft, ctx.now)
    except BroadcastError as error:
        return [ctx.reply(_(str(error)))]
    if broadcast.status == "awaiting_approval":
        return await _ask_approval(ctx, officer, broadcast)
    quiet = broadcasts.quiet_until(ctx.now, ctx.services.settings.quiet_hours)
    done = (
        _("Broadcast #{id} is saved and will go out at {time}, when quiet hours end. Follow "
          "its progress on the dashboard: {link}")
        if quiet is not None
        else _("Broadcast #{id} is being sent. Follow its progress on the dashboard: {link}")
    )  # fmt: skip
    when = format_datetime(quiet) if quiet is not None else ""
    return [ctx.reply(done.format(id=broadcast.id, time=when, link=_progress(ctx, broadcast)))]


# ---------------------------------------------------------------------------- approving


async def _ask_approval(ctx: Context, officer: Officer, broadcast: Broadcast) -> list[Outgoing]:
    """Tell the author it waits, and ask the other linked admins, with a one-tap button."""
    asked = await broadcasts.approval_requests(ctx.session, ctx.services, officer, broadcast)
    waits = (
        _("Broadcast #{id} is saved. It goes to the whole federation, so it waits for a second "
          "admin's approval (/duyet {id}); the other admins have been asked on Telegram. "
          "Follow it on the dashboard: {link}")
        if asked
        else _("Broadcast #{id} is saved. It goes to the whole federation, so it waits for a "
               "second admin's approval, and no other admin is linked on Telegram: ask one to "
               "approve it on the dashboard: {link}")
    )  # fmt: skip
    return [ctx.reply(waits.format(id=broadcast.id, link=_progress(ctx, broadcast))), *asked]


async def approve(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """/duyet ID: approve a broadcast to the whole federation."""
    officer = await officer_of(ctx)
    if officer is None:
        return await menu.unknown_command(ctx, msg)
    parts = (msg.text or "").split()
    number = parts[1].lstrip("#") if len(parts) > 1 else ""
    broadcast_id = whole_number(number)
    if broadcast_id is None:
        return [ctx.reply(_("Send /duyet followed by the broadcast's number, e.g. /duyet 12."))]
    return await _approve(ctx, officer, broadcast_id)


async def _approve(ctx: Context, officer: Officer, broadcast_id: int) -> list[Outgoing]:
    """The service approves or refuses (not waiting, not an admin, the author); the author is
    told."""
    try:
        broadcast = await broadcasts.approve(ctx.session, officer, broadcast_id, ctx.now)
    except BroadcastError as error:
        return [ctx.reply(_(str(error)))]
    quiet = broadcasts.quiet_until(broadcast.send_at, ctx.services.settings.quiet_hours)
    done = (
        _("Broadcast #{id} is approved and will go out at {time}, when quiet hours end. Follow "
          "its progress on the dashboard: {link}")
        if quiet is not None
        else _("Broadcast #{id} is approved and is being sent. Follow its progress on the "
               "dashboard: {link}")
    )  # fmt: skip
    when = format_datetime(quiet) if quiet is not None else ""
    link = _progress(ctx, broadcast)
    replies = [ctx.reply(done.format(id=broadcast.id, time=when, link=link))]
    author = await ctx.session.get(Officer, broadcast.author_id) if broadcast.author_id else None
    if author is not None and author.active and author.telegram_user_id:
        with ctx.services.catalogs.activate(ctx.services.settings.default_language):
            told = _("{name} approved your broadcast #{id}. Its progress: {link}").format(
                name=officer.name, id=broadcast.id, link=link
            )
        to = Address(ctx.services.settings.officer_channel, str(author.telegram_user_id))
        replies.append(Outgoing(to, told))
    return replies
