"""Dashboard logins: argon2id passwords checked off the event loop, sessions in the database,
a CSRF token per session, and limits on guessing.

- The session cookie holds a random token; the database keeps only its keyed hash. Cookies
  are HttpOnly, SameSite=Strict, limited to /officer, and Secure behind https.
- A session ends after IDLE of inactivity or LIFETIME in all, and at logout.
- Every POST carries the session's CSRF token (the login form a cookie-bound one).
- Five wrong passwords for an account within LOCK_WINDOW lock it for that window (counted in
  the audit log, so every process sees them); one address may try MAX_TRIES_PER_ADDRESS
  logins per LOCK_WINDOW (counted in this process).
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.accounts import check_password, hash_password
from bot.services.crypto import Vault
from storage import audit, officers
from storage.models import AuditEntry, Officer, OfficerSession

COOKIE = "ub_session"
LOGIN_COOKIE = "ub_login"
PATH = "/officer"
IDLE = timedelta(hours=2)
LIFETIME = timedelta(hours=12)
LOCK_WINDOW = timedelta(minutes=15)
MAX_FAILURES = 5
MAX_TRIES_PER_ADDRESS = 30


@dataclass(frozen=True, slots=True)
class Login:
    """The officer behind a request, and the session's CSRF token."""

    officer: Officer
    csrf: str


class Addresses:
    """Login attempts per client address in the last LOCK_WINDOW (this process only)."""

    def __init__(self) -> None:
        self._tries: defaultdict[str, deque[datetime]] = defaultdict(deque)

    def allow(self, address: str, now: datetime) -> bool:
        tries = self._tries[address]
        while tries and tries[0] < now - LOCK_WINDOW:
            tries.popleft()
        if len(tries) >= MAX_TRIES_PER_ADDRESS:
            return False
        tries.append(now)
        return True


# The login limiter, per client address (bot/web/routes.py sets it up).
ADDRESSES = web.AppKey("login_addresses", Addresses)


@functools.cache
def _dummy_hash() -> str:
    """Checked when the login does not exist, so that answer takes as long as a wrong one."""
    return hash_password(secrets.token_hex(16))


def _tag(vault: Vault, token: str) -> str:
    return vault.tag("session:" + token)


def secure(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto") == "https"


def set_cookie(response: web.StreamResponse, request: web.Request, name: str, value: str) -> None:
    response.set_cookie(
        name, value, path=PATH, httponly=True, samesite="Strict", secure=secure(request)
    )


async def log_in(
    session: AsyncSession, vault: Vault, login: str, password: str, now: datetime
) -> tuple[str, OfficerSession] | str:
    """A new session (its cookie token and row), or why not: "locked" or "wrong"."""
    officer = await officers.by_login(session, login)
    if officer is not None and await _failures(session, officer.id, now) >= MAX_FAILURES:
        return "locked"
    stored = officer.password_hash if officer is not None and officer.active else None
    ok = await check_password(stored or _dummy_hash(), password)
    if officer is None or not ok or stored is None:
        if officer is not None:
            audit.record(
                session, actor="officer", officer_id=officer.id, action="login.failed", now=now
            )
        return "wrong"
    token = secrets.token_urlsafe(32)
    row = OfficerSession(
        token_tag=_tag(vault, token),
        officer_id=officer.id,
        csrf=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + LIFETIME,
    )
    session.add(row)
    audit.record(session, actor="officer", officer_id=officer.id, action="login", now=now)
    return token, row


async def _failures(session: AsyncSession, officer_id: int, now: datetime) -> int:
    query = select(func.count()).where(
        AuditEntry.officer_id == officer_id,
        AuditEntry.action == "login.failed",
        AuditEntry.at > now - LOCK_WINDOW,
    )
    return int(await session.scalar(query) or 0)


async def current(
    session: AsyncSession, vault: Vault, request: web.Request, now: datetime
) -> Login | None:
    """The logged-in officer, or None (no cookie, unknown, expired, idle, deactivated)."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    row = await session.scalar(
        select(OfficerSession).where(OfficerSession.token_tag == _tag(vault, token))
    )
    if row is None or row.expires_at <= now or row.last_seen_at + IDLE <= now:
        return None
    officer = await session.get(Officer, row.officer_id)
    if officer is None or not officer.active:
        return None
    row.last_seen_at = now
    return Login(officer, row.csrf)


async def log_out(session: AsyncSession, vault: Vault, request: web.Request) -> None:
    token = request.cookies.get(COOKIE)
    if token:
        await session.execute(
            delete(OfficerSession).where(OfficerSession.token_tag == _tag(vault, token))
        )


def csrf_ok(expected: str, given: object) -> bool:
    return isinstance(given, str) and hmac.compare_digest(expected.encode(), given.encode())
