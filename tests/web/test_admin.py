"""Admin pages: canned replies, officer accounts with link codes, officers' groups."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select

from bot import outbox
from bot.services import accounts
from storage import officers
from storage.models import CannedReply, OfficerGroup, OutboxItem
from tests.support import TEST_VAULT, count
from tests.web.conftest import csrf_of, log_in


async def test_officers_use_canned_replies_that_only_admins_maintain(dashboard, sessions):
    client, code = dashboard["client"], dashboard["codes"]["named"]
    await log_in(client, "binh")
    token = await csrf_of(client, "/officer/replies")
    refused = await client.post("/officer/replies", data={"csrf": token, "title": "x", "text": "y"})
    assert refused.status == 403 and await count(sessions, CannedReply) == 0
    assert (await client.get("/officer/officers")).status == 403
    await client.post("/officer/logout", data={"csrf": token})

    await log_in(client, "admin")
    token = await csrf_of(client, "/officer/replies")
    forged = await client.post("/officer/replies", data={"title": "x", "text": "y"})
    assert forged.status == 403
    empty = await client.post("/officer/replies", data={"csrf": token, "title": "", "text": "y"})
    assert empty.status == 400
    text = "Công đoàn đã nhận phản ánh và sẽ liên hệ với công ty trong tuần này."
    added = await client.post(
        "/officer/replies", data={"csrf": token, "title": "Đã nhận", "text": text}
    )
    assert added.status == 200 and text in await added.text()
    async with sessions() as session:
        reply = (await session.scalars(select(CannedReply))).one()
    await client.post("/officer/logout", data={"csrf": token})

    await log_in(client, "binh")
    page = await (await client.get(f"/officer/case/{code}")).text()
    assert "Đã nhận" in page and 'name="canned"' in page
    token = await csrf_of(client, f"/officer/case/{code}")
    sent = await client.post(
        f"/officer/case/{code}/reply", data={"csrf": token, "canned": str(reply.id)}
    )
    assert sent.status == 200
    async with sessions() as session:
        [row] = (await session.scalars(select(OutboxItem))).all()
    outgoing, _buttons = outbox.body(TEST_VAULT, row)  # sealed in the outbox
    assert outgoing.endswith(text)


async def test_an_admin_adds_an_officer_who_links_telegram_with_the_code(dashboard, sessions):
    client = dashboard["client"]
    await log_in(client, "admin")
    page = await (await client.get("/officer/officers")).text()
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    union = re.search(r'<option value="(\d+)">Công đoàn cơ sở Công ty TNHH Sữa', page).group(1)
    added = await client.post(
        "/officer/officers",
        data={"csrf": token, "name": "Lê Thị Mới", "union": union, "role": "officer"},
    )
    shown = await added.text()
    assert added.status == 200 and "Lê Thị Mới" in shown
    code = re.search(r"/canbo ([A-Z0-9]{5}-[A-Z0-9]{5})", shown).group(1)
    async with sessions() as session:
        found = await officers.by_invite(
            session, accounts.invite_tag(TEST_VAULT, code), datetime.now(UTC)
        )
    assert found is not None and found.name == "Lê Thị Mới"
    taken = await client.post(
        "/officer/officers",
        data={"csrf": token, "name": "X", "union": union, "login": "binh", "password": "x" * 12},
    )
    assert taken.status == 400 and "Tên đăng nhập “binh” đã có người dùng." in await taken.text()
    bad = await client.post("/officer/groups", data={"csrf": token, "union": union, "chat_id": "5"})
    assert bad.status == 400 and await count(sessions, OfficerGroup) == 0
    good = await client.post(
        "/officer/groups", data={"csrf": token, "union": union, "chat_id": "-100200300"}
    )
    assert good.status == 200 and "-100200300" in await good.text()
