"""The queue as a triage inbox (HTTP level): what needs action first, what each row says,
the saved views with their counts, claiming from the list (admins too) and bulk actions."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select

from bot.services import accounts
from storage import unions
from storage.models import AuditEntry, Case
from tests.web.conftest import NOW, PASSWORD, csrf_of, log_in, seed_queue


async def seeded(dashboard, sessions) -> dict[str, str]:
    async with sessions() as session:
        named = await seed_queue(session, 60, datetime.now(UTC))
        await session.commit()
    return named


def codes(html: str) -> list[str]:
    return re.findall(r'<tr class="[^"]*" data-code="([A-Z]{2}-\d{4}-\d{6})"', html)


async def test_what_needs_action_comes_first_and_each_row_says_why(dashboard, sessions):
    named = await seeded(dashboard, sessions)
    client = dashboard["client"]
    assert await log_in(client, "binh") == 303
    page = await (await client.get("/officer/queue?view=new")).text()
    shown = codes(page)
    # Overdue before not, very urgent first among them, then the soonest due.
    assert shown[0] == named["urgent_overdue"]
    # Then (once nothing overdue is left) the very urgent one, then the soonest due.
    assert shown.index(named["urgent_later"]) < shown.index(named["due_today"])
    row = page.split(f'data-code="{named["urgent_overdue"]}"')[1].split("</tr>")[0]
    assert "Rất gấp" in row and "quá hạn 30 giờ" in row and "4 ngày trước" in row
    assert "Yêu cầu số 7: công ty chậm lương tháng này" in row  # the worker's first words
    assert "1 tin chưa đọc" in row and "ẩn danh" in row
    today = page.split(f'data-code="{named["due_today"]}"')[1].split("</tr>")[0]
    assert 'class="due-today"' in today and "còn " in today
    # The navigation counts every saved view; the title shows what is new.
    assert re.search(r"Mới <span class=\"count\">6[0-9]</span>", page)
    assert 'Chờ người lao động <span class="count">1</span>' in page
    assert re.search(r"<title>\(6[0-9]\) ", page)


async def test_opening_a_case_marks_its_messages_read(dashboard, sessions):
    named = await seeded(dashboard, sessions)
    client = dashboard["client"]
    assert await log_in(client, "binh") == 303
    code = named["urgent_overdue"]
    assert (await client.get(f"/officer/case/{code}")).status == 200
    page = await (await client.get("/officer/queue?view=new")).text()
    row = page.split(f'data-code="{code}"')[1].split("</tr>")[0]
    assert "chưa đọc" not in row


async def test_the_waiting_view_holds_what_waits_for_the_worker(dashboard, sessions):
    named = await seeded(dashboard, sessions)
    client = dashboard["client"]
    assert await log_in(client, "binh") == 303
    page = await (await client.get("/officer/queue?view=waiting")).text()
    assert codes(page) == [named["waiting"]]


async def bulk(client, do: str, *picked: str, officer: str | None = None) -> tuple[int, str]:
    token = await csrf_of(client)
    data = [("csrf", token), ("do", do), ("back", "/officer/queue?view=new")]
    data += [("case", code) for code in picked]
    if officer:
        data.append(("officer", officer))
    response = await client.post("/officer/queue/bulk", data=data, allow_redirects=False)
    return response.status, response.headers.get("Location", "")


async def states(sessions, *picked: str) -> list[tuple[str, int | None]]:
    async with sessions() as session:
        found = await session.scalars(select(Case).where(Case.code.in_(picked)).order_by(Case.id))
        return [(c.status, c.assignee_id) for c in found]


async def test_claim_and_resolve_from_the_list_in_bulk(dashboard, sessions):
    named = await seeded(dashboard, sessions)
    client = dashboard["client"]
    assert await log_in(client, "binh") == 303
    page = await (await client.get("/officer/queue?view=new")).text()
    first, second, third = codes(page)[:3]
    theirs = dashboard["codes"]["theirs"]  # GR-THONGXANH's: out of Bình's reach
    status, back = await bulk(client, "claim", first, second, theirs)
    assert status == 303 and back.startswith("/officer/queue?view=new&done=claim%3A2%3A1")
    notice = await (await client.get(back)).text()
    assert "Đã nhận 2 hồ sơ. 1 hồ sơ không đổi được" in notice
    binh = await officer_id(sessions, "binh")
    assert await states(sessions, first, second) == [("assigned", binh), ("assigned", binh)]
    assert await states(sessions, theirs) == [("new", None)]
    status, back = await bulk(client, "close", second, third)
    # Resolving takes a case nobody held, as from its page (bot/services/casework.py).
    assert await states(sessions, second, third) == [("resolved", binh), ("resolved", binh)]
    assert "Mine <span" not in notice and named  # (the page speaks Vietnamese)


async def test_an_admin_can_claim_from_the_list(dashboard, sessions):
    named = await seeded(dashboard, sessions)
    client = dashboard["client"]
    assert await log_in(client, "admin") == 303
    status, _back = await bulk(client, "claim", named["any"])
    assert status == 303
    admin = await officer_id(sessions, "admin")
    assert await states(sessions, named["any"]) == [("assigned", admin)]
    mine = await (await client.get("/officer/queue?view=mine")).text()
    assert codes(mine) == [named["any"]]


async def test_bulk_refuses_what_it_cannot_do_and_changes_nothing(dashboard, sessions):
    named = await seeded(dashboard, sessions)
    client = dashboard["client"]
    assert await log_in(client, "binh") == 303
    assert (await bulk(client, "delete", named["any"]))[0] == 400
    khac = await officer_id(sessions, "khac")  # another union's officer: cannot take it
    status, back = await bulk(client, "assign", named["any"], officer=str(khac))
    assert status == 303 and "done=assign%3A0%3A1" in back
    forged = await client.post(
        "/officer/queue/bulk", data={"csrf": "x", "do": "claim", "case": named["any"]}
    )
    assert forged.status == 403
    assert await states(sessions, named["any"]) == [("new", None)]
    async with sessions() as session:
        changes = await session.scalars(
            select(AuditEntry.action).where(AuditEntry.action == "case.assigned")
        )
        assert list(changes) == []
    assert NOW  # the dashboard's fixed cases stay as they were


def give_to(html: str) -> dict[str, list[str]]:
    """The bulk form's "Give to" list: each union's officers, by the union's name."""
    chosen = html.split('<select name="officer"')[1].split("</select>")[0]
    groups = re.findall(r'<optgroup label="([^"]+)">(.*?)</optgroup>', chosen)
    return {union: re.findall(r">([^<]+)</option>", options) for union, options in groups}


SUA = "Công đoàn cơ sở Công ty TNHH Sữa Cao Nguyên"
THONG = "Công đoàn cơ sở Công ty CP Khách sạn Thông Xanh"


async def test_an_admin_gives_grassroots_requests_to_that_unions_officers(dashboard, sessions):
    named = await seeded(dashboard, sessions)
    client = dashboard["client"]
    assert await log_in(client, "admin") == 303
    page = await (await client.get("/officer/queue?view=new")).text()
    # The officers who may take the listed requests, by union: the grassroots unions' own.
    assert give_to(page) == {THONG: ["Khac"], SUA: ["Binh"]}
    theirs = dashboard["codes"]["theirs"]  # GR-THONGXANH's: Bình cannot take it
    binh = await officer_id(sessions, "binh")
    status, back = await bulk(client, "assign", named["any"], theirs, officer=str(binh))
    assert status == 303 and "done=assign%3A1%3A1" in back
    assert await states(sessions, named["any"]) == [("assigned", binh)]
    assert await states(sessions, theirs) == [("new", None)]
    notice = await (await client.get(back)).text()
    assert "1 hồ sơ không đổi được" in notice
    khac = await officer_id(sessions, "khac")
    assert (await bulk(client, "assign", theirs, officer=str(khac)))[1].endswith("%3A1%3A0")
    assert await states(sessions, theirs) == [("assigned", khac)]


async def test_an_officer_gives_requests_to_a_colleague_and_only_hers(dashboard, sessions):
    named = await seeded(dashboard, sessions)
    async with sessions() as session:
        await accounts.add_officer(
            session, union_code="GR-SUACAONGUYEN", name="Lan", role="officer", now=NOW,
            login="lan", password=PASSWORD,
        )  # fmt: skip
        await session.commit()
    client = dashboard["client"]
    assert await log_in(client, "binh") == 303
    page = await (await client.get("/officer/queue?view=new")).text()
    assert give_to(page) == {SUA: ["Binh", "Lan"]}
    first, second = codes(page)[:2]
    lan = await officer_id(sessions, "lan")
    status, back = await bulk(client, "assign", first, second, officer=str(lan))
    assert status == 303 and "done=assign%3A2%3A0" in back
    assert await states(sessions, first, second) == [("assigned", lan), ("assigned", lan)]
    assert "Đã giao 2 hồ sơ cho cán bộ được chọn." in await (await client.get(back)).text()
    mine = await (await client.get("/officer/queue?view=mine")).text()
    assert first not in codes(mine) and named


async def test_moving_requests_up_in_bulk(dashboard, sessions):
    await seeded(dashboard, sessions)
    client = dashboard["client"]
    assert await log_in(client, "binh") == 303
    page = await (await client.get("/officer/queue?view=new")).text()
    first, second = codes(page)[:2]
    theirs = dashboard["codes"]["theirs"]  # out of Bình's reach: skipped
    status, back = await bulk(client, "escalate", first, second, theirs)
    assert status == 303 and "done=escalate%3A2%3A1" in back
    async with sessions() as session:
        camly = await unions.by_code(session, "CL-CAMLY")
        sua = await unions.by_code(session, "GR-SUACAONGUYEN")
        moved = await session.scalars(select(Case).where(Case.code.in_((first, second))))
        assert {(c.union_id, c.origin_union_id) for c in moved} == {(camly.id, sua.id)}
        escalated = await session.scalars(
            select(AuditEntry.action).where(AuditEntry.action == "case.escalated")
        )
        assert len(list(escalated)) == 2
    after = await (await client.get(back)).text()
    assert "Đã chuyển 2 hồ sơ lên công đoàn cấp trên." in after
    # A grievance passed up leaves the grassroots union's sight.
    assert first not in codes(after) and second not in codes(after)


async def officer_id(sessions, login: str) -> int:
    from storage.models import Officer

    async with sessions() as session:
        return (await session.scalars(select(Officer.id).where(Officer.login == login))).one()
