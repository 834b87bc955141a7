"""A worker answers a quick poll (bot/services/polls.py) by pressing one of its buttons, or on
Zalo by typing an answer's number.

The answer is stored at once and the worker is thanked, told what was recorded, that
another answer replaces it, and that answers are only counted together, never with their
name. A press from someone the poll never went to, or of an answer it does not have, is a
stale button; a closed poll says so kindly.
"""

from __future__ import annotations

from bot.services import polls
from bot.services.i18n import _
from handlers.payloads import Vote
from handlers.types import Context, Incoming, Outgoing, StaleButton


async def on_button(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """poll:<poll>:<option>."""
    vote = Vote.unpack(msg.payload)
    try:
        answered = await polls.answer(
            ctx.session, ctx.services, ctx.person, vote.poll, vote.option, ctx.now
        )
    except polls.NotAnswerable:
        raise StaleButton(msg.payload) from None
    except polls.Closed:
        text = _("Thank you! This poll has closed, so answers are no longer counted.")
        return [ctx.reply(text)]
    together = _("Answers are only counted together, never with your name.")
    if answered.before == answered.option:
        text = _("Your answer is already recorded: “{answer}”.").format(answer=answered.label)
    elif answered.before is not None:
        text = _("Your answer is changed to: “{answer}”. Thank you!").format(answer=answered.label)
    else:
        text = _("Thank you! Your answer is recorded: “{answer}”.").format(answer=answered.label)
    change = _("To change it, choose another answer in the poll.")
    # No buttons: on Zalo the numbers typed back still mean the poll's answers.
    return [ctx.reply(f"{text}\n{change} {together}")]
