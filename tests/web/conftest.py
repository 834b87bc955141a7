"""The dashboard's fixtures: an app on the test database with three officers and three cases
(two of GR-SUACAONGUYEN, one anonymous; one of GR-THONGXANH with a file)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.services import accounts
from storage import cases, evidence, people, unions
from storage.localtime import LOCAL_TIME
from tests.support import TEST_VAULT

PASSWORD = "mat-khau-rat-dai"
NOW = datetime.now(UTC)


async def make_case(session, union_code: str, text: str, *, anonymous: bool, phone=None):
    union = await unions.by_code(session, union_code)
    person = await people.create(session, "telegram", f"9{union.id}{int(anonymous)}", "vi", NOW)
    await session.flush()
    contact = TEST_VAULT.seal(f'{{"phone": "{phone}"}}') if phone else None
    return await cases.open(
        session, kind="grievance", union_id=union.id, category="wages",
        person_id=None if anonymous else person.id, text=text, now=NOW, anonymous=anonymous,
        due_at=NOW + timedelta(days=2), contact_sealed=contact,
        reporter_sealed=TEST_VAULT.seal(str(person.id)) if anonymous else None,
    )  # fmt: skip


async def seed_queue(session, count: int, now: datetime) -> dict[str, str]:
    """`count` open requests in GR-SUACAONGUYEN's queue, due from 3 days ago to 10 days ahead,
    every seventh a hardship request; among them, by name: the one overdue AND very urgent
    (which must come first), one very urgent not yet due, one due later today, one waiting
    for the worker. Their codes by those names."""
    union = await unions.by_code(session, "GR-SUACAONGUYEN")
    named: dict[str, str] = {}
    for i in range(count):
        kind = "support" if i % 7 == 0 else "grievance"
        due = now + timedelta(hours=(i * 6) - 72)
        case = await cases.open(
            session, kind=kind, union_id=union.id, person_id=None, anonymous=True,
            text=f"Yêu cầu số {i}: công ty chậm lương tháng này", now=now - timedelta(days=4),
            category="wages" if kind == "grievance" else "illness", due_at=due,
            details={"urgency": "later"} if kind == "support" else {},
        )  # fmt: skip
        named.setdefault("any", case.code)
        if i == 7:  # a hardship request overdue by 30 hours: others are later still
            case.details = {"urgency": "now"}
            named["urgent_overdue"] = case.code
        if i == 35:
            case.details = {"urgency": "now"}
            named["urgent_later"] = case.code
        if i == 12:  # the last second of today in Đà Lạt: due today, whenever this runs
            today = now.astimezone(LOCAL_TIME).date()
            midnight = datetime.combine(today + timedelta(days=1), time(), LOCAL_TIME)
            case.due_at = midnight - timedelta(seconds=1)
            named["due_today"] = case.code
        if i == 40:
            case.status = "waiting_worker"
            named["waiting"] = case.code
    await session.flush()
    return named


async def add_officers(session) -> None:
    """binh (GR-SUACAONGUYEN), khac (GR-THONGXANH) and admin (FED-ROOT), one password."""
    for login, union, role in (
        ("binh", "GR-SUACAONGUYEN", "officer"),
        ("khac", "GR-THONGXANH", "officer"),
        ("admin", "FED-ROOT", "admin"),
    ):
        await accounts.add_officer(
            session, union_code=union, name=login.title(), role=role, now=NOW,
            login=login, password=PASSWORD,
        )  # fmt: skip


@pytest.fixture
async def dashboard(settings, sessions) -> AsyncIterator[dict]:
    app = create_app(settings)
    client = TestClient(TestServer(app))
    await client.start_server()
    async with sessions() as session:
        await add_officers(session)
        mine = await make_case(
            session, "GR-SUACAONGUYEN", "Nợ lương <script>alert(1)</script>", anonymous=True
        )
        named = await make_case(
            session, "GR-SUACAONGUYEN", "Tăng ca quá giờ", anonymous=False, phone="0912345678"
        )
        theirs = await make_case(session, "GR-THONGXANH", "Chuyện ở khách sạn", anonymous=False)
        photo = evidence.receive(
            session, channel="telegram", reference="x", kind="photo", mime="image/jpeg",
            size=3, now=NOW,
        )  # fmt: skip
        await session.flush()
        await evidence.attach(session, [photo.id], theirs.id)
        await evidence.store(session, photo.id, mime="image/jpeg", content=b"\xff\xd8x", now=NOW)
        codes = {"mine": mine.code, "named": named.code, "theirs": theirs.code}
        await session.commit()
    yield {"client": client, "codes": codes, "photo": photo.id}
    await client.close()


async def log_in(client: TestClient, login: str, password: str = PASSWORD) -> int:
    page = await client.get("/officer/login")
    token = re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)
    response = await client.post(
        "/officer/login",
        data={"csrf": token, "login": login, "password": password},
        allow_redirects=False,
    )
    return response.status


async def csrf_of(client: TestClient, path: str = "/officer/queue") -> str:
    page = await client.get(path)
    return re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)


async def log_in_browser(page: Any, url: str, login: str) -> None:
    """Log in to the dashboard in a browser page; it lands on the queue."""
    await page.goto(f"{url}/officer/login")
    await page.fill("input[name=login]", login)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("form.login button[type=submit]")
    await page.wait_for_url("**/officer/queue")
