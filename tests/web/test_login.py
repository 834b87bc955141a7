"""Guessing passwords cannot be turned against officers: wrong passwords slow the next try of
that login down instead of locking the officer out, an unknown login answers exactly like a
wrong password, and behind a trusted proxy the per-address limit counts the real client."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from ipaddress import ip_network
from unittest import mock

import pytest
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request

from bot.app import create_app
from bot.web import auth
from storage import audit, officers
from storage.models import Officer, OfficerSession
from tests.support import count
from tests.web.conftest import NOW, PASSWORD, add_officers, log_in


async def attempt(client: TestClient, login: str, password: str, **headers: str):
    """A login try: its status and the error shown (None when it let the officer in)."""
    page = await client.get("/officer/login")
    token = re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)
    response = await client.post(
        "/officer/login", data={"csrf": token, "login": login, "password": password},
        headers=headers, allow_redirects=False,
    )  # fmt: skip
    error = re.search(r'<p class="error" role="alert">([^<]*)</p>', await response.text())
    return response.status, error.group(1) if error else None


async def test_an_unknown_login_answers_exactly_like_a_wrong_password(dashboard, monkeypatch):
    monkeypatch.setattr(auth, "FIRST_WAIT", timedelta(seconds=30), raising=False)
    client = dashboard["client"]
    answers = {}
    for login in ("binh", "nobody"):
        answers[login] = [await attempt(client, login, "not the password") for _ in range(6)]
    assert answers["binh"] == answers["nobody"]
    assert answers["binh"][0] == (401, "Sai tên đăng nhập hoặc mật khẩu.")
    # Trying again at once is slowed down in the same words, whether the login exists or not.
    status, error = answers["binh"][1]
    waited = re.fullmatch(r"Hãy đợi (\d+) giây rồi thử lại.*", error)
    # 30 seconds from the wrong password, less what a busy machine took since.
    assert status == 429 and waited and 25 <= int(waited.group(1)) <= 30


async def test_wrong_passwords_slow_the_account_down_and_never_lock_the_officer_out(
    dashboard, sessions
):
    client = dashboard["client"]
    async with sessions() as session:  # five wrong passwords, as an attacker would send them
        binh = await officers.by_login(session, "binh")
        for _ in range(5):
            audit.record(
                session, actor="officer", officer_id=binh.id, action="login.failed", now=NOW
            )
        await session.commit()
    assert await log_in(client, "binh") == 303  # the real officer still gets in
    await client.post("/officer/logout", data={"csrf": await csrf(client)})
    assert (await attempt(client, "binh", "not the password"))[0] == 401
    status, error = await attempt(client, "binh", PASSWORD)  # too soon: not even checked
    assert status == 429 and "1 giây" in error
    assert await log_in(client, "khac") == 303  # other logins are not slowed down
    await asyncio.sleep(1.1)
    assert await log_in(client, "binh") == 303


async def test_tries_sent_side_by_side_wait_their_turn_too(dashboard):
    client = dashboard["client"]
    answers = await asyncio.gather(
        *(attempt(client, "binh", f"guess {number}") for number in range(4))
    )
    assert sorted(status for status, _error in answers) == [401, 429, 429, 429]


async def csrf(client: TestClient) -> str:
    page = await client.get("/officer/queue")
    return re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)


def test_the_wait_doubles_up_to_a_cap_and_is_forgotten():
    start = datetime(2026, 11, 25, tzinfo=UTC)
    waits = [auth.wait_after(n, start, start).total_seconds() for n in range(1, 10)]
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert auth.wait_after(9, start, start + timedelta(seconds=30)) == timedelta(seconds=30)
    assert auth.wait_after(9, start, start + timedelta(seconds=61)) == timedelta(0)
    assert auth.wait_after(9, start, start + auth.FORGET_AFTER) == timedelta(0)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite takes one process
async def test_every_process_counts_the_same_wrong_passwords(dashboard, settings):
    """A second `serve` on the same database (another app here) slows the name down too: the
    count is in the database, so N processes do not give a guesser N times the tries."""
    first = dashboard["client"]
    second = TestClient(TestServer(create_app(settings)))
    await second.start_server()
    try:
        assert (await attempt(first, "binh", "guess one"))[0] == 401
        status, error = await attempt(second, "binh", PASSWORD)  # not even checked
        assert status == 429 and "giây" in error
        await asyncio.sleep(1.1)
        assert (await attempt(second, "binh", "guess two"))[0] == 401
        assert (await attempt(first, "binh", PASSWORD))[0] == 429  # now 2 seconds
        await asyncio.sleep(2.1)
        assert await log_in(second, "binh") == 303
        assert await log_in(first, "binh") == 303  # the success started the name afresh
    finally:
        await second.close()


def request_from(peer: str, forwarded: str | None = None):
    transport = mock.Mock()
    transport.get_extra_info.return_value = (peer, 40000)
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    return make_mocked_request("POST", "/officer/login", headers=headers, transport=transport)


PROXIES = (ip_network("10.0.0.0/8"), ip_network("127.0.0.1"), ip_network("fd00::/8"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("203.0.113.7", None, "203.0.113.7"),
        ("203.0.113.7", "198.51.100.9", "203.0.113.7"),  # not from a proxy: the header is a lie
        ("10.0.0.2", None, "10.0.0.2"),
        ("10.0.0.2", "198.51.100.9", "198.51.100.9"),
        ("10.0.0.2", "1.1.1.1, 198.51.100.9", "198.51.100.9"),  # the first hop was typed
        ("10.0.0.2", "198.51.100.9, 10.1.1.1", "198.51.100.9"),  # two proxies
        ("10.0.0.2", "10.3.3.3, 10.1.1.1", "10.3.3.3"),  # all trusted: the first one
        ("fd00::1", "2001:db8::5", "2001:db8::5"),
        ("::ffff:10.0.0.2", "198.51.100.9", "198.51.100.9"),
        ("10.0.0.2", "nonsense", "nonsense"),
    ],
)
def test_the_client_address_is_read_through_trusted_proxies_only(peer, forwarded, client):
    assert auth.client_address(request_from(peer, forwarded), PROXIES) == client
    assert auth.client_address(request_from(peer, forwarded), ()) == peer


@pytest.fixture
async def behind_proxy(settings, sessions, monkeypatch):
    """The dashboard behind a proxy on this machine, with three tries per address."""
    monkeypatch.setattr(auth, "MAX_TRIES_PER_ADDRESS", 3)
    app = create_app(settings.with_(trusted_proxies=(ip_network("127.0.0.1"),)))
    client = TestClient(TestServer(app))
    await client.start_server()
    async with sessions() as session:
        await add_officers(session)
        await session.commit()
    yield client
    await client.close()


async def test_behind_a_trusted_proxy_one_client_cannot_lock_out_the_others(behind_proxy):
    client = behind_proxy
    for name in ("a1", "a2", "a3"):
        assert (await attempt(client, name, "x", **{"X-Forwarded-For": "203.0.113.7"}))[0] == 401
    status, error = await attempt(client, "a4", "x", **{"X-Forwarded-For": "203.0.113.7"})
    assert status == 429 and error.startswith("Thử quá nhiều lần")
    spoofed = await attempt(client, "a5", "x", **{"X-Forwarded-For": "1.2.3.4, 203.0.113.7"})
    assert spoofed[0] == 429
    assert await log_in_from(client, "binh", "198.51.100.9") == 303


async def log_in_from(client: TestClient, login: str, address: str) -> int:
    status, _error = await attempt(client, login, PASSWORD, **{"X-Forwarded-For": address})
    return status


async def test_without_a_trusted_proxy_forwarded_for_is_ignored(dashboard, monkeypatch):
    monkeypatch.setattr(auth, "MAX_TRIES_PER_ADDRESS", 3)
    client = dashboard["client"]
    for number in range(3):
        forwarded = {"X-Forwarded-For": f"203.0.113.{number}"}
        assert (await attempt(client, f"a{number}", "x", **forwarded))[0] == 401
    assert await log_in_from(client, "binh", "198.51.100.9") == 429


async def test_logging_in_deletes_expired_sessions_and_link_codes(dashboard, sessions):
    client, now = dashboard["client"], datetime.now(UTC)
    async with sessions() as session:
        khac = await officers.by_login(session, "khac")
        khac.invite_tag, khac.invite_expires_at = "old-code", now - timedelta(days=1)
        for tag, hours in (("expired", 13), ("idle", 3)):
            created = now - timedelta(hours=hours)
            session.add(OfficerSession(
                token_tag=tag, officer_id=khac.id, csrf="c", created_at=created,
                last_seen_at=created, expires_at=created + timedelta(hours=12),
            ))  # fmt: skip
        await session.commit()
    assert await log_in(client, "binh") == 303
    assert await count(sessions, OfficerSession) == 1  # binh's own
    assert await count(sessions, Officer, Officer.invite_tag.is_not(None)) == 0
