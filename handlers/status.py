"""“My requests”: the person's cases with their code, status and date."""

from __future__ import annotations

from bot.services.i18n import N_, _, format_date
from handlers import menu
from handlers.types import Context, Incoming, Outgoing, StaleButton
from storage import cases

KIND_NAMES = {
    "question": N_("Question"),
    "membership": N_("Joining"),
    "grievance": N_("Report"),
    "support": N_("Support"),
}
STATUS_NAMES = {
    "new": N_("received"),
    "assigned": N_("being handled"),
    "waiting_worker": N_("waiting for your answer"),
    "resolved": N_("resolved"),
    "closed": N_("closed"),
}
SHOWN = 5


async def show(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """The five most recent requests, newest first."""
    recent = await cases.for_person(
        ctx.session, ctx.person.id, reporter_tag(ctx, ctx.person.id), limit=SHOWN
    )
    if not recent:
        text = _("You have not sent any request yet. When you do, its code will show here.")
        return [ctx.reply(text, menu.main_menu())]
    lines = [_("Your requests:")]
    for case in recent:
        lines.append(
            _("{code} · {kind} · {status} · sent {date}").format(
                code=case.code,
                kind=_(KIND_NAMES[case.kind]),
                status=_(STATUS_NAMES[case.status]),
                date=format_date(case.created_at),
            )
        )
    return [ctx.reply("\n".join(lines), menu.main_menu())]


async def on_button(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """status:list."""
    if msg.payload != "status:list":
        raise StaleButton(msg.payload)
    return await show(ctx, msg)


def reporter_tag(ctx: Context, person_id: int) -> str:
    """The tag that links a person to their anonymous cases (only with the key)."""
    return ctx.services.vault.tag(f"reporter:{person_id}")


def reporter(ctx: Context, anonymous: bool) -> dict[str, object]:
    """The Case columns that say who filed it: the person, or for an anonymous case only a
    sealed copy (to relay answers) and the tag (for their own "My requests")."""
    if not anonymous:
        return {"person_id": ctx.person.id}
    return {
        "person_id": None,
        "reporter_sealed": ctx.services.vault.seal(str(ctx.person.id)),
        "reporter_tag": reporter_tag(ctx, ctx.person.id),
    }
