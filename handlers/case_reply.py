"""The worker's answer on a case: the "Answer" button under an officer's reply, then one
message that goes into the case thread for the officers (bot/services/casework.py)."""

from __future__ import annotations

from bot.services import casework
from bot.services.i18n import _
from handlers import menu, my_requests
from handlers.payloads import CaseReply
from handlers.types import Context, Incoming, Outgoing, StaleButton
from storage import cases
from storage.models import Case


async def _own_case(ctx: Context, code: str) -> Case | None:
    return await cases.owned_by(
        ctx.session, code, ctx.person.id, await my_requests.anonymous_ids(ctx)
    )


async def on_button(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """case:reply:<code>: the worker's next message goes to that case."""
    code = CaseReply.unpack(msg.payload).code
    if await _own_case(ctx, code) is None:
        raise StaleButton(msg.payload)  # not theirs, or not a case at all
    ctx.end_flow()
    ctx.state.update(flow="case_reply", case=code)
    text = _("Write your answer about {code} in one message. Send /cancel to stop.")
    return [ctx.reply(text.format(code=code))]


async def on_text(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """The worker's answer: added to the case thread for the officers."""
    code = str(ctx.state.get("case"))
    text = (msg.text or "").strip()
    if not text:
        return [ctx.reply(_("Please write your message as text. Send /cancel to stop."))]
    case = await _own_case(ctx, code)
    ctx.end_flow()
    if case is None:
        return [ctx.reply(_("What do you need? Choose one below."), menu.main_menu())]
    told = await casework.worker_answer(ctx.session, ctx.services, case, text, ctx.now)
    reply = _("Your answer was added to {code}. The officer will see it.").format(code=code)
    return [ctx.reply(reply, menu.main_menu()), *told]
