"""What the dashboard says when a messenger will not carry something: Zalo's tokens refused
(admins only), and a reply held until the worker writes again (in the case's thread)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.services import Services, casework
from storage import credentials
from storage.models import Case
from tests.support import TEST_VAULT
from tests.web.conftest import log_in

TROUBLE = "Zalo đã từ chối mã làm mới (refresh token) của bot"


async def test_admins_see_that_zalo_needs_authorising_again(dashboard, sessions):
    client = dashboard["client"]
    assert await log_in(client, "admin") == 303
    assert TROUBLE not in await (await client.get("/officer/queue")).text()
    async with sessions() as session:
        now = datetime.now(UTC)
        await credentials.seed(session, "zalo", None, TEST_VAULT.seal("r"), None, now)
        await credentials.mark_broken(session, "zalo", "zalo error -14014", now)
        await session.commit()
    assert TROUBLE in await (await client.get("/officer/queue")).text()
    client.session.cookie_jar.clear()
    assert await log_in(client, "binh") == 303
    assert TROUBLE not in await (await client.get("/officer/queue")).text()


async def test_a_held_reply_is_explained_in_the_cases_thread(dashboard, sessions, settings):
    client = dashboard["client"]
    code = dashboard["codes"]["named"]
    async with sessions() as session:
        case = (await session.scalars(select(Case).where(Case.code == code))).one()
        services = Services.load(settings)
        told = await casework.undelivered(
            session, services, case.id, "window_closed", datetime.now(UTC)
        )
        await session.commit()
    assert told == []  # nobody linked on Telegram in this union
    assert await log_in(client, "binh") == 303
    page = await (await client.get(f"/officer/case/{code}")).text()
    assert "Chưa gửi được: người lao động nhắn lần cuối đã hơn 7 ngày" in page
    assert "sẽ tự gửi ngay khi người lao động nhắn lại" in page
