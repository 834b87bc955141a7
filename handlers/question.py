"""Leaving a message for an officer: it becomes a `question` case in the root federation's
queue. Used for questions the knowledge base cannot answer (handlers/faq.py) and for menu
items whose own flows are not built yet."""

from __future__ import annotations

from bot.services import alerts, calendar, reporters
from bot.services.i18n import N_, _
from handlers import cancel, forms, menu
from handlers.payloads import Question
from handlers.types import Button, Context, Incoming, Outgoing, StaleButton
from storage import cases, unions

# Menu items that lead here for now, with the feature name the worker tapped.
TOPICS = {
    "faq": N_("Questions"),
    "join": N_("Join the union"),
    "report": N_("Report a problem"),
    "support": N_("Hardship support"),
    "other": N_("Other"),
}


async def _root_name(ctx: Context) -> str:
    root = await unions.root(ctx.session)
    return root.name if root else _("the union")


async def offer(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """q:offer:<topic>: this part is not ready; offer to leave a message instead."""
    topic = Question.unpack(msg.payload).topic
    if topic not in TOPICS:
        raise StaleButton(msg.payload)
    text = _(
        "“{feature}” is not ready in this chat yet. You can leave a message instead: "
        "an officer of {union} will read it and answer you here."
    ).format(feature=_(TOPICS[topic]), union=await _root_name(ctx))
    leave = Button(_("Leave a message"), Question("write", topic).pack())
    buttons = ((leave,), (menu.back_to_menu(),))
    return [ctx.reply(text, buttons)]


async def write(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """q:write:<topic>: the next text the person sends becomes the message."""
    topic = Question.unpack(msg.payload).topic
    if topic not in TOPICS:
        raise StaleButton(msg.payload)
    return start_writing(ctx, topic)


def start_writing(ctx: Context, topic: str) -> list[Outgoing]:
    """Make the person's next text the message to an officer about `topic`."""
    ctx.state["flow"] = "question"
    ctx.state["topic"] = topic
    return [
        ctx.reply(
            _(
                "Write your message in one text: what you need, and where you work if it "
                "matters. You do not need to give your name or phone number. "
                "Send /cancel to stop."
            )
        )
    ]


async def on_text(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """Text while writing a message: open the case."""
    text = (msg.text or "").strip()
    if not text:
        return [ctx.reply(_("Please write your message as text. Send /cancel to stop."))]
    if forms.cancel_intent(text):
        # A message of one word like "huỷ" or "thôi" is not a question: ask what they meant.
        keyboard = (
            (Button(_("Yes, cancel it"), Question("drop").pack()),),
            (Button(_("No, I will write it"), Question("keep").pack()),),
        )
        return [ctx.reply(_("Do you want to stop writing your message?"), keyboard)]
    topic = ctx.state.get("topic", "other")
    return await submit(ctx, text, topic if topic in TOPICS else "other")


async def on_button(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """q:* buttons."""
    pressed = Question.unpack(msg.payload)
    if pressed.verb == "offer":
        return await offer(ctx, msg)
    if pressed.verb == "write":
        return await write(ctx, msg)
    if pressed.topic is not None:
        raise StaleButton(msg.payload)
    if pressed.verb in ("drop", "keep") and ctx.state.get("flow") == "question":
        if pressed.verb == "drop":
            return await cancel.run(ctx, msg)
        return [ctx.reply(_("Write your message in one text. Send /cancel to stop."))]
    if pressed.verb == "send":
        draft = ctx.state.get("draft")
        if not isinstance(draft, str) or not draft.strip():
            raise StaleButton(msg.payload)
        return await submit(ctx, draft, "other")
    raise StaleButton(msg.payload)


async def submit(ctx: Context, text: str, topic: str) -> list[Outgoing]:
    """Open a `question` case with the text in the root federation's queue."""
    root = await unions.root(ctx.session)
    if root is None:
        # The directory was never imported: keep the draft so nothing is lost.
        ctx.end_flow()
        ctx.state["draft"] = text
        return [
            ctx.reply(
                _(
                    "Sorry, the union's queue is not set up yet, so I could not pass on your "
                    "message. I have kept it; please try again later."
                ),
                ((Button(_("Send it to an officer"), Question("send").pack()),),),
            )
        ]
    first_due, _resolution = calendar.due_times(
        "question", ctx.now, ctx.services.settings.due_days, ctx.services.holidays
    )
    case = await cases.open(
        ctx.session,
        kind="question",
        category=topic,
        union_id=root.id,
        text=text,
        now=ctx.now,
        due_at=first_due,
        first_response_due_at=first_due,
        route_rule=4,  # a question goes to the root federation
        # The worker was told no name is needed: nothing on the case points to them; the
        # answer is relayed through the sealed reporter, and "My requests" finds it.
        anonymous=True,
        **reporters.columns(ctx.services.vault, ctx.person.id, anonymous=True),
    )
    reporters.remember(ctx.services.vault, ctx.person, case.id)
    ctx.end_flow()
    return [
        ctx.reply(
            _(
                "Your message has been sent. Request code: {code}.\n"
                "An officer of {union} will read it and answer you here. You can check it "
                "under “My requests”."
            ).format(code=case.code, union=root.name),
            (menu.main_menu()),
        ),
        *await alerts.new_case(ctx.session, ctx.services, case, text),
    ]
