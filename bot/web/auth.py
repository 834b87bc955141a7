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
  UNIONBOT_TRUSTED_PROXIES the address is read from X-Forwarded-For. Both are counted in this
  process (one `serve` per database).
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
from storage import audit, officers
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
MAX_NAMES = 10_000  # login names remembered at once (a spray of made-up names stays bounded)


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


class SlowDown:
    """Wrong passwords per login name as typed, known or not (this process only): after n in
    a row the next try waits FIRST_WAIT·2^(n-1), at most MAX_WAIT, before it is checked."""

    def __init__(self) -> None:
        self._failures: dict[str, tuple[int, datetime]] = {}  # name: (how many, the last)

    def wait(self, name: str, now: datetime) -> timedelta:
        """How long until a try for this name may be checked (zero: now)."""
        found = self._failures.get(name)
        if found is None:
            return timedelta(0)
        failures, last = found
        if now - last >= FORGET_AFTER:
            del self._failures[name]
            return timedelta(0)
        wait = min(FIRST_WAIT * (1 << min(failures - 1, 16)), MAX_WAIT)
        return max(last + wait - now, timedelta(0))

    def tried(self, name: str, now: datetime) -> None:
        """A try is being checked: it counts as a wrong password unless it succeeds."""
        failures, _last = self._failures.pop(name, (0, now))
        self._failures[name] = (failures + 1, now)  # re-inserted: the dict stays oldest first
        if len(self._failures) > MAX_NAMES:
            del self._failures[next(iter(self._failures))]

    def succeeded(self, name: str) -> None:
        self._failures.pop(name, None)


# The login limiters, per client address and per login name (bot/web/routes.py sets them up).
ADDRESSES = web.AppKey("login_addresses", Addresses)
SLOWDOWN = web.AppKey("login_slowdown", SlowDown)


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
