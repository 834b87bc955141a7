"""/xoadulieu: a worker sees what the bot keeps about them and deletes it.

Erased: the sealed phone number and the consent, the conversation state (forms half-filled,
drafts, and files sent with a form not yet sent), the messages the bot sent them, their
askings among the unanswered questions, and their answers to quick polls.
The inbox keeps nothing to erase: an update's content is cleared once it is processed. The
cases they filed stay with the union, with every link back to them cut (their id, the sealed
reporter and its tag, the sealed contact details, the PIN); each case's thread records when,
so officers see why nobody answers. The worker is told exactly what went and, before
agreeing, that their request codes and PINs stop working.
"""

from __future__ import annotations

from bot.services import polls
from bot.services.i18n import _
from handlers import faq, forms, menu, my_requests, subscriptions
from handlers.payloads import Privacy
from handlers.types import Button, Context, Incoming, Outgoing
from storage import cases, evidence, outbox, people, unanswered


async def ask(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """/xoadulieu: say what is kept and ask to confirm."""
    filed = await cases.count_for_person(
        ctx.session, ctx.person.id, await my_requests.anonymous_ids(ctx)
    )
    held = [
        _("phone number: {kept}").format(
            kept=_("kept, encrypted") if ctx.person.phone_encrypted else _("none")
        ),
        _("agreement to keep personal data: {kept}").format(
            kept=_("given") if ctx.person.consent_at else _("not given")
        ),
        _("requests you sent: {count}").format(count=filed),
    ]
    if chosen := await subscriptions.chosen_by(ctx):
        held.append(_("news you receive: {topics}").format(topics=subscriptions.named(chosen)))
    text = _(
        "This is what I keep about you:\n{held}\n"
        "If you delete your data: your phone number, your agreement, anything half-filled, "
        "the messages I sent you and the questions you asked that I could not answer are "
        "erased. Requests you sent stay with the union so it can still act on them, but "
        "nothing links them to you any more: you can no longer follow them here (the request "
        "codes and PINs you were given stop working), and officers can no longer answer you "
        "about them here. This cannot be undone."
    ).format(held="\n".join(f"• {line}" for line in held))
    buttons = (
        (Button(_("Delete my data"), Privacy("erase").pack()),),
        (Button(_("Keep it"), Privacy("keep").pack()),),
    )
    return [ctx.reply(text, buttons)]


async def erase(ctx: Context) -> list[Outgoing]:
    """Delete, then report exactly what was deleted."""
    person = ctx.person
    held = people.erase_personal(person)
    had_state = bool(ctx.state)
    # Deleted with the person (storage.people.delete_person).
    subscribed = bool(await subscriptions.chosen_by(ctx))
    dropped = await evidence.discard(ctx.session, forms.files(ctx.state))
    ctx.state.clear()
    sent = await outbox.forget_person(ctx.session, person.id)
    asked = await unanswered.forget(ctx.session, faq.asker_tag(ctx))
    answered = await polls.forget(ctx.session, ctx.services, person.id)
    mine = await my_requests.anonymous_ids(ctx)
    detached = await cases.detach(ctx.session, person.id, mine, ctx.now)
    # The person and their conversation go too (the dispatcher deletes the rows once this
    # handler is done); a later message starts anew, linked to nothing.
    ctx.erase_person()
    lines = [
        _("phone number") if "phone_encrypted" in held else None,
        _("your agreement to keep personal data") if "consent_at" in held else None,
        _("what you had half-filled") if had_state else None,
        _("your subscription to union news") if subscribed else None,
        _("{count} files you had sent with it").format(count=dropped) if dropped else None,
        _("{count} messages I had sent you").format(count=sent) if sent else None,
        _("{count} answers you gave to quick polls").format(count=answered) if answered else None,
        _("{count} questions you asked that I could not answer").format(count=asked)
        if asked
        else None,
    ]
    deleted = [line for line in lines if line]
    text = (
        _("Deleted:\n{items}").format(items="\n".join(f"• {line}" for line in deleted))
        if deleted
        else _("There was nothing personal to delete.")
    )
    if detached:
        text += "\n" + _(
            "{count} requests stay with the union with nothing linking them to you. Their "
            "request codes and PINs no longer work, and officers can no longer answer you "
            "about them here."
        ).format(count=detached)
    return [ctx.reply(text, menu.main_menu())]


async def on_button(ctx: Context, msg: Incoming) -> list[Outgoing]:
    """privacy:erase and privacy:keep."""
    if Privacy.unpack(msg.payload).choice == "erase":
        return await erase(ctx)
    return [ctx.reply(_("Nothing was deleted."), menu.main_menu())]
