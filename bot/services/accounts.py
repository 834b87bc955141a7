"""Officer accounts: creating them, passwords (argon2id), one-time codes to link Telegram,
officers' groups, and ending an officer's access (deactivate, reset the password, unlink
Telegram, remove a group). Used by `unionbot officer …` and by the dashboard; every change is
audited, with the admin who made it (`by`) or the command line (`by=None`).

A password check holds a core for tens of milliseconds: async callers use check_password,
which runs it in a thread.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.crypto import Vault
from bot.services.i18n import N_, _
from bot.services.text import whole_number
from storage import audit, officers, unions
from storage.models import Officer

INVITE_DAYS = 7
INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # nothing to misread: no 0/O, 1/I
INVITE_LENGTH = 10
INVITE_PREFIX = "invite:"
MIN_PASSWORD = 10
# What each role (storage/officers.py ROLES) is called where a person reads it.
ROLE_NAMES = {"officer": N_("Officer"), "admin": N_("Administrator")}
_hasher = PasswordHasher()


class AccountError(Exception):
    """A request about accounts that cannot be carried out; the message says why, in the
    language active where it was raised (the CLI's and the dashboard's: the default)."""


@dataclass(frozen=True, slots=True)
class Deactivated:
    """What deactivating an officer did, and what is left for an admin to see to."""

    sessions: int  # dashboard sessions ended
    open_cases: int  # unresolved cases still assigned to them: give them to a colleague
    groups: tuple[str, ...]  # their union's officers' groups, where they may still read alerts


@dataclass(frozen=True, slots=True)
class Invite:
    code: str  # shown once, as XXXXX-XXXXX
    expires_at: datetime


def check_password_length(password: str) -> None:
    """AccountError unless the password is long enough (checked before anything else)."""
    if len(password) < MIN_PASSWORD:
        message = _("A password needs at least {count} characters.")
        raise AccountError(message.format(count=MIN_PASSWORD))


def hash_password(password: str) -> str:
    check_password_length(password)
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    if not stored:
        return False
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def check_password(stored: str | None, password: str) -> bool:
    """verify_password off the event loop."""
    return await asyncio.to_thread(verify_password, stored, password)


def normalise_code(code: str) -> str:
    """What the officer typed, as the code was made: capitals, no dashes or spaces."""
    return re.sub(r"[^0-9A-Za-z]", "", code).upper()


def invite_tag(vault: Vault, code: str) -> str:
    return vault.tag(INVITE_PREFIX + normalise_code(code))


def invite(officer: Officer, vault: Vault, now: datetime) -> Invite:
    """A new one-time code for the officer to send to the bot (/canbo CODE); only its keyed
    hash is stored, and any earlier code stops working."""
    check_active(officer)
    raw = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))
    officer.invite_tag = invite_tag(vault, raw)
    officer.invite_expires_at = now + timedelta(days=INVITE_DAYS)
    half = INVITE_LENGTH // 2
    return Invite(f"{raw[:half]}-{raw[half:]}", officer.invite_expires_at)


async def add_officer(
    session: AsyncSession,
    *,
    union_code: str,
    name: str,
    role: str,
    now: datetime,
    login: str | None = None,
    password: str | None = None,
    telegram_user_id: str | None = None,
) -> Officer:
    union = await unions.by_code(session, union_code)
    if union is None:
        message = _("There is no union with the code “{code}”. Import the directory first.")
        raise AccountError(message.format(code=union_code))
    if role not in officers.ROLES:
        message = _("The role must be one of: {roles}.")
        raise AccountError(message.format(roles=", ".join(officers.ROLES)))
    if not name.strip():
        raise AccountError(_("An officer needs a name."))
    if login is not None and await officers.by_login(session, login):
        raise AccountError(_("The login “{login}” is taken.").format(login=login))
    if login is not None and not password:
        raise AccountError(_("A login needs a password."))
    if telegram_user_id is not None:
        if whole_number(telegram_user_id, digits=20) is None:
            raise AccountError(_("A Telegram user id is a number."))
        if await officers.by_telegram(session, telegram_user_id):
            raise AccountError(_("That Telegram account is already linked to an officer."))
    officer = officers.add(
        session,
        union_id=union.id,
        name=name.strip(),
        role=role,
        now=now,
        login=login,
        password_hash=hash_password(password) if password else None,
        telegram_user_id=telegram_user_id,
    )
    await session.flush()
    return officer


async def register_group(
    session: AsyncSession, union_code: str, chat_id: str, now: datetime,
    channel: str = "telegram", *, by: int | None = None,
) -> None:  # fmt: skip
    union = await unions.by_code(session, union_code)
    if union is None:
        message = _("There is no union with the code “{code}”.")
        raise AccountError(message.format(code=union_code))
    if not re.fullmatch(r"-\d+", chat_id):
        raise AccountError(
            _("A Telegram group's chat id is a negative number, e.g. -1001234567890.")
        )
    await officers.register_group(session, union.id, channel, chat_id, now)
    audited(session, "group.registered", now, by=by, detail={"chat": chat_id, "union": union.id})


async def remove_group(
    session: AsyncSession, chat_id: str, now: datetime, *, by: int | None,
    channel: str = "telegram",
) -> None:  # fmt: skip
    """Stop telling the group of new cases; alerts still waiting to go there are withdrawn."""
    if not await officers.remove_group(session, channel, chat_id):
        raise AccountError(_("No group {chat} is registered.").format(chat=chat_id))
    await officers.withdraw_alerts(session, channel, chat_id)
    audited(session, "group.removed", now, by=by, detail={"chat": chat_id})


# ---------------------------------------------------------------------------- ending access


async def find_officer(session: AsyncSession, key: str) -> Officer:
    """The officer with this login, or else this id; AccountError when there is none."""
    found = await officers.by_login_or_id(session, key)
    if found is None:
        raise AccountError(_("There is no officer “{officer}”.").format(officer=key))
    return found


def check_active(officer: Officer) -> None:
    if not officer.active:
        raise AccountError(_("{name} is deactivated.").format(name=officer.name))


async def deactivate(
    session: AsyncSession, officer: Officer, now: datetime, *, by: int | None
) -> Deactivated:
    """End every access of the officer at once: the dashboard (password and sessions), the
    Telegram link and any link code, and alerts still waiting to reach them. Their name
    stays on what they did. The last active administrator cannot be deactivated."""
    check_active(officer)
    if officer.role == "admin" and await officers.active_admins(session) <= 1:
        message = _(
            "{name} is the last active administrator. Add another administrator first, so "
            "that someone can still manage the accounts."
        )
        raise AccountError(message.format(name=officer.name))
    officer.active = False
    officer.password_hash = None
    await _cut_telegram(session, officer)
    ended = await officers.end_sessions(session, officer.id)
    audited(session, "officer.deactivated", now, by=by, detail={"officer": officer.id})
    groups = await officers.groups(session, officer.union_id)
    return Deactivated(
        sessions=ended,
        open_cases=await officers.open_cases_of(session, officer.id),
        groups=tuple(group.chat_id for group in groups),
    )


async def reset_password(
    session: AsyncSession, officer: Officer, password: str, now: datetime, *, by: int | None
) -> int:
    """A new dashboard password; every session of the officer ends. How many ended."""
    check_active(officer)
    if officer.login is None:
        raise AccountError(_("{name} has no dashboard login.").format(name=officer.name))
    officer.password_hash = hash_password(password)
    ended = await officers.end_sessions(session, officer.id)
    audited(session, "officer.password_reset", now, by=by, detail={"officer": officer.id})
    return ended


async def unlink(session: AsyncSession, officer: Officer, now: datetime, *, by: int | None) -> None:
    """Cut the officer's Telegram link (a lost phone, a shared account); a new code links
    another one."""
    check_active(officer)
    if officer.telegram_user_id is None:
        message = _("{name} has no linked Telegram account.")
        raise AccountError(message.format(name=officer.name))
    await _cut_telegram(session, officer)
    audited(session, "officer.unlinked", now, by=by, detail={"officer": officer.id})


async def _cut_telegram(session: AsyncSession, officer: Officer) -> None:
    if officer.telegram_user_id is not None:
        await officers.withdraw_alerts(session, "telegram", officer.telegram_user_id)
    officer.telegram_user_id = None
    officer.invite_tag = None
    officer.invite_expires_at = None


def audited(
    session: AsyncSession, action: str, now: datetime, *, by: int | None,
    detail: dict[str, object] | None = None,
) -> None:  # fmt: skip
    """An audit entry for a change to accounts: by an admin, or from the command line."""
    audit.record(
        session, actor="officer" if by is not None else "cli", officer_id=by, action=action,
        now=now, detail=detail,
    )  # fmt: skip


# ---------------------------------------------------------------------------- what an admin reads


def deactivated_report(officer: Officer, done: Deactivated, *, on_dashboard: bool) -> str:
    """What deactivating did, and what is left to do (on the dashboard or the command line,
    which remove a group differently)."""
    text = _(
        "Deactivated officer {id}: {name}. {sessions} dashboard sessions ended; their password "
        "and Telegram link no longer work."
    ).format(id=officer.id, name=officer.name, sessions=done.sessions)
    lines = [text]
    if done.open_cases:
        cases = _("{count} open requests are still assigned to them: give them to a colleague.")
        lines.append(cases.format(count=done.open_cases))
    if done.groups:
        groups = (
            _("Their union's officers' groups still get alerts: {chats}. If they are in one, "
              "remove them from it in Telegram, or remove the group below.")
            if on_dashboard
            else _("Their union's officers' groups still get alerts: {chats}. If they are in "
                   "one, remove them from it in Telegram, or remove the group: unionbot "
                   "officer group remove CHAT_ID")
        )  # fmt: skip
        lines.append(groups.format(chats=", ".join(done.groups)))
    return "\n".join(lines)


def unlinked_report(officer: Officer) -> str:
    text = _("Unlinked Telegram from {name}'s account. A new link code links another account.")
    return text.format(name=officer.name)


def group_removed_report(chat_id: str) -> str:
    return _("The group {chat} will no longer be told of new requests.").format(chat=chat_id)
