"""Officer accounts: creating them, passwords (argon2id), one-time codes to link Telegram,
and officers' groups. Used by `unionbot officer …` and by the dashboard.

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
from storage import officers, unions
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
        if not telegram_user_id.isdigit():
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
    session: AsyncSession, union_code: str, chat_id: str, now: datetime, channel: str = "telegram"
) -> None:
    union = await unions.by_code(session, union_code)
    if union is None:
        message = _("There is no union with the code “{code}”.")
        raise AccountError(message.format(code=union_code))
    if not re.fullmatch(r"-\d+", chat_id):
        raise AccountError(
            _("A Telegram group's chat id is a negative number, e.g. -1001234567890.")
        )
    await officers.register_group(session, union.id, channel, chat_id, now)
