"""Dashboard logins: argon2id passwords checked off the event loop, sessions in the database,
a CSRF token per session, and limits on guessing that cannot be turned against officers.

- The session cookie holds a random token; the database keeps only its keyed hash. Cookies
  are HttpOnly, SameSite=Strict, limited to /officer, and Secure behind https.
- A session ends after IDLE of inactivity or LIFETIME in all, at logout, and when the
  officer is deactivated or their password reset; ended ones are deleted at each login
  (storage/officers.py forget_expired, which a periodic job may call too).
- Every POST carries the session's CSRF token (the login form a cookie-bound one).
- Guessing is slowed down, never locked: each wrong password for a login name doubles the
  wait before that name's next try is even checked (FIRST_WAIT up to MAX_WAIT), so the real
  officer is delayed by seconds, not shut out. Unknown names are slowed down the same way and
  answered in the same words as a wrong password (checked against a dummy hash, so in about
  the same time), so no answer tells which logins exist. One client address may try
  MAX_TRIES_PER_ADDRESS logins per ADDRESS_WINDOW; behind a proxy listed in
  UNIONBOT_TRUSTED_PROXIES the address is read from X-Forwarded-For. Wrong passwords are
  counted in the database (storage/logins.py), so every `serve` process on it slows a name
  down alike; the per-address limit is counted in each process.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Network, real_client
from bot.services.accounts import check_password, hash_password
from bot.services.crypto import Vault
from storage import audit, logins, officers
from storage.models import Officer, OfficerSession

COOKIE = "ub_session"
LOGIN_COOKIE = "ub_login"
PATH = "/officer"
IDLE = officers.SESSION_IDLE
LIFETIME = officers.SESSION_LIFETIME
ADDRESS_WINDOW = timedelta(minutes=15)
MAX_TRIES_PER_ADDRESS = 30
FIRST_WAIT = timedelta(seconds=1)
MAX_WAIT = timedelta(seconds=60)
FORGET_AFTER = timedelta(minutes=15)  # without a wrong password, a login name starts afresh


@dataclass(frozen=True, slots=True)
class Login:
    """The officer behind a request, and the session's CSRF token."""

    officer: Officer
    csrf: str


class Addresses:
    """Login attempts per client address in the last ADDRESS_WINDOW (this process only)."""

    def __init__(self) -> None:
        self._tries: defaultdict[str, deque[datetime]] = defaultdict(deque)

    def allow(self, address: str, now: datetime) -> bool:
        tries = self._tries[address]
        while tries and tries[0] < now - ADDRESS_WINDOW:
            tries.popleft()
        if len(tries) >= MAX_TRIES_PER_ADDRESS:
            return False
        tries.append(now)
        return True


def wait_after(failures: int, last: datetime, now: datetime) -> timedelta:
    """How long a name with `failures` wrong passwords in a row, the last at `last`, waits
    before its next try is checked: FIRST_WAIT·2^(n-1), at most MAX_WAIT; zero once that
    has passed, and for good after FORGET_AFTER without a wrong one."""
    if now - last >= FORGET_AFTER:
        return timedelta(0)
    wait = min(FIRST_WAIT * (1 << min(failures - 1, 16)), MAX_WAIT)
    return max(last + wait - now, timedelta(0))


async def take_turn(session: AsyncSession, vault: Vault, name: str, now: datetime) -> timedelta:
    """Zero when a try for this login name may be checked now, and then it is counted as a
    wrong password first (`succeeded` undoes that), so tries sent side by side, to any
    process, wait their turn; else how long to wait, with nothing counted."""
    tag = _name_tag(vault, name)
    found = await logins.failures(session, tag)
    seen, count = None, 0
    if found is not None:
        wait = wait_after(*found, now)
        if wait > timedelta(0):
            return wait
        seen, count = found[0], (found[0] if now - found[1] < FORGET_AFTER else 0)
    if not await logins.count_try(session, tag, seen, count + 1, now):
        return FIRST_WAIT  # another try for this name got there first: it is being checked
    return timedelta(0)


async def succeeded(session: AsyncSession, vault: Vault, name: str, now: datetime) -> None:
    """The name logged in: it starts afresh (and names idle for FORGET_AFTER are dropped)."""
    await logins.forget(session, _name_tag(vault, name))
    await logins.forget_before(session, now - FORGET_AFTER)


def _name_tag(vault: Vault, name: str) -> str:
    return vault.tag("login-name:" + name)


# The login limiter per client address (bot/web/routes.py sets it up).
ADDRESSES = web.AppKey("login_addresses", Addresses)


def client_address(request: web.Request, trusted: Sequence[Network]) -> str:
    """The client's address, believing X-Forwarded-For only from a trusted proxy."""
    forwarded = request.headers.getall("X-Forwarded-For", [])
    return real_client(request.remote, forwarded, trusted)


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
) -> tuple[str, OfficerSession] | None:
    """A new session (its cookie token and row), or None: unknown login, deactivated
    officer or wrong password, which the caller must not tell apart."""
    officer = await officers.by_login(session, login)
    stored = officer.password_hash if officer is not None and officer.active else None
    ok = await check_password(stored or _dummy_hash(), password)
    if officer is None or not ok or stored is None:
        if officer is not None:
            audit.record(
                session, actor="officer", officer_id=officer.id, action="login.failed", now=now
            )
        return None
    await officers.forget_expired(session, now)
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
