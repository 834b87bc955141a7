"""Dashboard pages for admins (the federation): canned replies, officer accounts with
one-time Telegram link codes, officers' groups, and ending an officer's access (deactivate,
reset the password, unlink Telegram, remove a group: bot/services/accounts.py, audited with
the admin's id). Officers may read the canned replies; everything else here answers 403 to
anyone but an admin."""

from __future__ import annotations

from aiohttp import web

from bot.services import accounts
from bot.services.i18n import _
from bot.services.text import whole_number
from bot.web.pages import Page, redirect
from storage import audit, canned, officers, unions
from storage.models import Officer, OfficerGroup, Union


def _is_admin(current: Page) -> bool:
    return current.login is not None and current.login.officer.role == "admin"


# ---------------------------------------------------------------------------- canned replies


async def replies_page(current: Page, error: str | None = None, status: int = 200) -> web.Response:
    return current.render(
        "replies.html",
        status=status,
        replies=await canned.all_replies(current.session),
        admin=_is_admin(current),
        error=error,
    )


async def replies_change(current: Page) -> web.StreamResponse:
    """POST /officer/replies (add), /officer/replies/{id} (change), …/{id}/delete."""
    if not _is_admin(current):
        return current.refuse(403, _("Only an administrator can do this."))
    assert current.login is not None
    reply_id = whole_number(current.request.match_info.get("id"))
    if current.request.path.endswith("/delete") and reply_id is not None:
        await canned.remove(current.session, reply_id)
        return redirect("/officer/replies")
    form = current.form
    title = str(form.get("title", "")).strip()
    text = str(form.get("text", "")).strip()
    if not title or not text or len(title) > canned.MAX_TITLE or len(text) > canned.MAX_TEXT:
        error = _("A reply needs a title (at most {title}) and a text (at most {text}).")
        return await replies_page(
            current, error.format(title=canned.MAX_TITLE, text=canned.MAX_TEXT), 400
        )
    existing = await canned.get(current.session, reply_id) if reply_id is not None else None
    if reply_id is not None and existing is None:
        return current.refuse(404, _("No such reply."))
    canned.save(
        current.session, existing, title=title, text=text,
        officer_id=current.login.officer.id, now=current.now,
    )  # fmt: skip
    return redirect("/officer/replies")


# ---------------------------------------------------------------------------- officers


async def officers_page(
    current: Page, *, invite: accounts.Invite | None = None, invited: str | None = None,
    notice: str | None = None, error: str | None = None, status: int = 200,
) -> web.StreamResponse:  # fmt: skip
    if not _is_admin(current):
        return current.refuse(403, _("Only an administrator can do this."))
    session = current.session
    all_unions = (await session.scalars(unions.all_unions_query())).all()
    names = {u.id: u for u in all_unions}
    groups = await officers.all_groups(session)
    return current.render(
        "officers.html",
        status=status,
        officers=[(o, names.get(o.union_id)) for o, _code in await officers.listing(session)],
        groups=[(g, names.get(g.union_id)) for g in groups],
        unions=all_unions,
        roles=accounts.ROLE_NAMES,
        invite=invite,
        invited=invited,
        notice=notice,
        error=error,
    )


async def officers_list(current: Page) -> web.StreamResponse:
    return await officers_page(current)


async def officers_add(current: Page) -> web.StreamResponse:
    """Create an officer and show their one-time link code once."""
    if not _is_admin(current):
        return current.refuse(403, _("Only an administrator can do this."))
    form = current.form
    union = await current.session.get(Union, whole_number(form.get("union")) or 0)
    login = str(form.get("login", "")).strip() or None
    password = str(form.get("password", "")) or None
    try:
        officer = await accounts.add_officer(
            current.session, union_code=union.code if union else "", name=str(form.get("name", "")),
            role=str(form.get("role", "officer")), now=current.now, login=login,
            password=password,
        )  # fmt: skip
    except accounts.AccountError as problem:
        return await officers_page(current, error=str(problem), status=400)
    code = accounts.invite(officer, current.services.vault, current.now)
    _audit(current, "officer.added", officer.id)
    return await officers_page(current, invite=code, invited=officer.name)


async def officers_invite(current: Page) -> web.StreamResponse:
    if not _is_admin(current):
        return current.refuse(403, _("Only an administrator can do this."))
    officer = await _target(current)
    if officer is None:
        return current.refuse(404, _("No such officer."))
    try:
        code = accounts.invite(officer, current.services.vault, current.now)
    except accounts.AccountError as problem:
        return await officers_page(current, error=str(problem), status=400)
    _audit(current, "officer.invited", officer.id)
    return await officers_page(current, invite=code, invited=officer.name)


async def officers_deactivate(current: Page) -> web.StreamResponse:
    """End every access of an officer at once; deactivating oneself logs out."""
    if not _is_admin(current):
        return current.refuse(403, _("Only an administrator can do this."))
    officer, admin = await _target(current), _admin(current)
    if officer is None:
        return current.refuse(404, _("No such officer."))
    try:
        done = await accounts.deactivate(current.session, officer, current.now, by=admin.id)
    except accounts.AccountError as problem:
        return await officers_page(current, error=str(problem), status=400)
    if officer.id == admin.id:
        return redirect("/officer/login")
    report = accounts.deactivated_report(officer, done, on_dashboard=True)
    return await officers_page(current, notice=report)


async def officers_password(current: Page) -> web.StreamResponse:
    """A new password, given by the admin; the officer's sessions end."""
    if not _is_admin(current):
        return current.refuse(403, _("Only an administrator can do this."))
    officer, admin = await _target(current), _admin(current)
    if officer is None:
        return current.refuse(404, _("No such officer."))
    password = str(current.form.get("password", ""))
    try:
        ended = await accounts.reset_password(
            current.session, officer, password, current.now, by=admin.id
        )
    except accounts.AccountError as problem:
        return await officers_page(current, error=str(problem), status=400)
    if officer.id == admin.id:
        return redirect("/officer/login")
    text = _("New password set for {name}; {sessions} dashboard sessions ended.")
    return await officers_page(current, notice=text.format(name=officer.name, sessions=ended))


async def officers_unlink(current: Page) -> web.StreamResponse:
    if not _is_admin(current):
        return current.refuse(403, _("Only an administrator can do this."))
    officer = await _target(current)
    if officer is None:
        return current.refuse(404, _("No such officer."))
    try:
        await accounts.unlink(current.session, officer, current.now, by=_admin(current).id)
    except accounts.AccountError as problem:
        return await officers_page(current, error=str(problem), status=400)
    return await officers_page(current, notice=accounts.unlinked_report(officer))


async def groups_add(current: Page) -> web.StreamResponse:
    if not _is_admin(current):
        return current.refuse(403, _("Only an administrator can do this."))
    form = current.form
    union = await current.session.get(Union, whole_number(form.get("union")) or 0)
    try:
        await accounts.register_group(
            current.session, union.code if union else "", str(form.get("chat_id", "")).strip(),
            current.now, by=_admin(current).id,
        )  # fmt: skip
    except accounts.AccountError as problem:
        return await officers_page(current, error=str(problem), status=400)
    return redirect("/officer/officers")


async def groups_remove(current: Page) -> web.StreamResponse:
    if not _is_admin(current):
        return current.refuse(403, _("Only an administrator can do this."))
    group_id = whole_number(current.request.match_info["id"]) or 0
    group = await current.session.get(OfficerGroup, group_id)
    if group is None:
        return current.refuse(404, _("No such group."))
    chat = group.chat_id
    await accounts.remove_group(
        current.session, chat, current.now, by=_admin(current).id, channel=group.channel
    )
    return await officers_page(current, notice=accounts.group_removed_report(chat))


async def _target(current: Page) -> Officer | None:
    """The officer named in the URL."""
    return await current.session.get(Officer, whole_number(current.request.match_info["id"]) or 0)


def _admin(current: Page) -> Officer:
    assert current.login is not None
    return current.login.officer


def _audit(current: Page, action: str, officer_id: int) -> None:
    assert current.login is not None
    audit.record(
        current.session, actor="officer", officer_id=current.login.officer.id, action=action,
        now=current.now, detail={"officer": officer_id},
    )  # fmt: skip
