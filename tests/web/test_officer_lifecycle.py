"""Admins end an officer's access from the dashboard: deactivate, reset a password, unlink
Telegram, remove an officers' group. Each is a POST with the CSRF token, audited, and takes
effect at once (the officer's open sessions end)."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.services import accounts
from storage import officers
from storage.models import AuditEntry, Officer, OfficerGroup, OfficerSession
from tests.support import count
from tests.web.conftest import NOW, csrf_of, log_in


async def ids(sessions) -> dict[str, int]:
    async with sessions() as session:
        return {o.login: o.id for o, _code in await officers.listing(session)}


async def second_browser(client: TestClient) -> TestClient:
    """Another browser (its own cookies) on the same server."""
    other = TestClient(client.server)
    await other.start_server()
    return other


async def test_an_admin_deactivates_an_officer_whose_sessions_end_at_once(dashboard, sessions):
    client, known = dashboard["client"], await ids(sessions)
    binh = await second_browser(client)
    try:
        assert await log_in(binh, "binh") == 303
        binh_token = await csrf_of(binh)
        refused = await binh.post(
            f"/officer/officers/{known['khac']}/deactivate", data={"csrf": binh_token}
        )
        assert refused.status == 403
        await log_in(client, "admin")
        page = await (await client.get("/officer/officers")).text()
        assert "Vô hiệu hoá tài khoản của Binh? Người này bị đăng xuất ngay" in page
        token = await csrf_of(client, "/officer/officers")
        forged = await client.post(f"/officer/officers/{known['binh']}/deactivate", data={})
        assert forged.status == 403 and (await binh.get("/officer/queue")).status == 200
        done = await client.post(
            f"/officer/officers/{known['binh']}/deactivate", data={"csrf": token}
        )
        shown = await done.text()
        assert done.status == 200 and "Đã vô hiệu hoá tài khoản cán bộ" in shown
        gone = await binh.get("/officer/queue", allow_redirects=False)
        assert (gone.status, gone.headers["Location"]) == (303, "/officer/login")
        assert await log_in(binh, "binh") == 401  # the same answer as a wrong password
    finally:
        await binh.session.close()
    async with sessions() as session:
        officer = await session.get(Officer, known["binh"])
        [entry] = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "officer.deactivated")
        )
    assert not officer.active and officer.password_hash is None
    assert (entry.officer_id, entry.detail) == (known["admin"], {"officer": known["binh"]})
    assert await count(sessions, OfficerSession, OfficerSession.officer_id == known["binh"]) == 0
    again = await client.post(f"/officer/officers/{known['binh']}/deactivate", data={"csrf": token})
    assert again.status == 400 and "Binh đã bị vô hiệu hoá" in await again.text()
    missing = await client.post("/officer/officers/99999/deactivate", data={"csrf": token})
    assert missing.status == 404


async def test_the_last_active_administrator_cannot_deactivate_themselves(dashboard, sessions):
    client, known = dashboard["client"], await ids(sessions)
    await log_in(client, "admin")
    token = await csrf_of(client, "/officer/officers")
    mine = f"/officer/officers/{known['admin']}/deactivate"
    refused = await client.post(mine, data={"csrf": token})
    assert refused.status == 400
    assert "Admin là quản trị viên cuối cùng còn hoạt động" in await refused.text()
    async with sessions() as session:
        assert (await session.get(Officer, known["admin"])).active
        await accounts.add_officer(
            session, union_code="FED-ROOT", name="Phó", role="admin", now=NOW
        )
        await session.commit()
    left = await client.post(mine, data={"csrf": token}, allow_redirects=False)
    assert (left.status, left.headers["Location"]) == (303, "/officer/login")
    assert (await client.get("/officer/queue", allow_redirects=False)).status == 303


async def test_a_password_reset_ends_the_officers_sessions(dashboard, sessions):
    client, known = dashboard["client"], await ids(sessions)
    binh = await second_browser(client)
    try:
        assert await log_in(binh, "binh") == 303
        await log_in(client, "admin")
        token = await csrf_of(client, "/officer/officers")
        where = f"/officer/officers/{known['binh']}/password"
        short = await client.post(where, data={"csrf": token, "password": "ngắn"})
        assert short.status == 400 and "ít nhất 10 ký tự" in await short.text()
        assert (await binh.get("/officer/queue")).status == 200
        done = await client.post(where, data={"csrf": token, "password": "mat-khau-moi-dai"})
        shown = await done.text()
        assert done.status == 200 and "Đã đặt mật khẩu mới cho Binh" in shown
        assert (await binh.get("/officer/queue", allow_redirects=False)).status == 303
        assert await log_in(binh, "binh", "mat-khau-moi-dai") == 303
    finally:
        await binh.session.close()
    audited = await count(sessions, AuditEntry, AuditEntry.action == "officer.password_reset")
    assert audited == 1


async def test_unlinking_telegram_and_removing_a_group(dashboard, sessions):
    client, known = dashboard["client"], await ids(sessions)
    async with sessions() as session:
        (await session.get(Officer, known["binh"])).telegram_user_id = "7001"
        await accounts.register_group(session, "GR-SUACAONGUYEN", "-100555", NOW)
        await session.commit()
    await log_in(client, "admin")
    page = await (await client.get("/officer/officers")).text()
    assert "Gỡ nhóm -100555? Nhóm sẽ không còn được báo khi có hồ sơ mới." in page
    token = await csrf_of(client, "/officer/officers")
    unlinked = await client.post(f"/officer/officers/{known['binh']}/unlink", data={"csrf": token})
    assert unlinked.status == 200
    assert "Đã gỡ liên kết Telegram khỏi tài khoản của Binh." in await unlinked.text()
    again = await client.post(f"/officer/officers/{known['binh']}/unlink", data={"csrf": token})
    assert again.status == 400 and "Binh chưa liên kết tài khoản Telegram" in await again.text()
    group_id = re.search(r'action="/officer/groups/(\d+)/delete"', page).group(1)
    removed = await client.post(f"/officer/groups/{group_id}/delete", data={"csrf": token})
    shown = await removed.text()
    assert removed.status == 200 and "Nhóm -100555 sẽ không còn được báo" in shown
    assert 'action="/officer/groups/' not in shown
    missing = await client.post(f"/officer/groups/{group_id}/delete", data={"csrf": token})
    assert missing.status == 404
    async with sessions() as session:
        assert (await session.get(Officer, known["binh"])).telegram_user_id is None
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert await count(sessions, OfficerGroup) == 0
    assert {"officer.unlinked", "group.removed"} <= set(actions)
