"""The dashboard's fixtures: an app on the test database with three officers and three cases
(two of GR-SUACAONGUYEN, one anonymous; one of GR-THONGXANH with a file)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.services import accounts
from storage import cases, evidence, people, unions
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
