"""Every dashboard page an officer or an admin reaches, and the CSV export, is Vietnamese: no
English msgid, no internal code value and no English phrase in its visible text
(tests/untranslated.py)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.app import create_app
from bot.services import accounts, reporters
from storage import canned, cases, evidence, people, unions
from storage.models import Case, CaseMessage, Evidence, UnansweredQuestion
from tests.support import TEST_VAULT
from tests.untranslated import leaks, visible_text
from tests.web.conftest import NOW, PASSWORD, csrf_of, log_in

SUA = "GR-SUACAONGUYEN"


async def _person(session, user: str):
    person = await people.create(session, "telegram", user, "vi", NOW)
    await session.flush()
    return person


async def _case(session, kind: str, category: str | None, *, contact=None, anonymous=False,
                details=None, union=SUA, **columns):  # fmt: skip
    person = await _person(session, f"8{kind}{category}{anonymous}")
    found = await unions.by_code(session, union)
    case = await cases.open(
        session, kind=kind, union_id=found.id, category=category, now=NOW - timedelta(days=3),
        person_id=None if anonymous else person.id, anonymous=anonymous,
        text="Công ty nợ lương hai tháng, cả xưởng chưa ai được trả.",
        due_at=NOW + timedelta(days=2), first_response_due_at=NOW + timedelta(days=2),
        resolution_due_at=NOW + timedelta(days=10), details=details or {},
        contact_sealed=TEST_VAULT.seal(json.dumps(contact)) if contact else None,
        reporter_sealed=TEST_VAULT.seal(str(person.id)) if anonymous else None,
        reporter_tag=reporters.tag(TEST_VAULT, person.id) if anonymous else None,
    )  # fmt: skip
    for column, value in columns.items():  # status, assignee, escalation
        setattr(case, column, value)
    return case


async def _file(session, case_id: int, kind: str, mime: str, outcome: tuple[str, str] | None):
    row = evidence.receive(
        session, channel="telegram", reference=f"ref-{kind}-{mime}", kind=kind, mime=mime,
        size=2048, now=NOW,
    )  # fmt: skip
    await session.flush()
    await evidence.attach(session, [row.id], case_id)
    if outcome is None:
        await evidence.store(session, row.id, mime=mime, content=b"\xff\xd8x", now=NOW)
    elif outcome[0] != "pending":
        await evidence.give_up(session, row.id, status=outcome[0], reason=outcome[1])


@pytest.fixture
async def busy(settings, sessions) -> AsyncIterator[dict]:
    """A queue with every kind of request, every status, files in every state, a thread
    with replies, notes and an erasure, an escalated case, canned replies and a group."""
    app = create_app(settings)
    client = TestClient(TestServer(app))
    await client.start_server()
    async with sessions() as session:
        binh = await accounts.add_officer(
            session, union_code=SUA, name="Trần Thị Bình", role="officer", now=NOW,
            login="binh", password=PASSWORD,
        )  # fmt: skip
        await accounts.add_officer(
            session, union_code="FED-ROOT", name="Lê Quản Trị", role="admin", now=NOW,
            login="quantri", password=PASSWORD, telegram_user_id="4242",
        )  # fmt: skip
        await accounts.register_group(session, SUA, "-100123", NOW)
        joining = await _case(
            session, "membership", "no_contract",
            contact={"name": "Nguyễn Thị Lan", "phone": "0912345678", "contact_time": "evening"},
            details={"contract": "no_contract", "contact_time": "evening",
                     "workplace_text": "Nhà máy sữa"},
        )  # fmt: skip
        joining.due_at = NOW - timedelta(days=1)  # overdue
        admitted = await _case(
            session, "membership", "foreign_long",
            contact={"name": "Võ Minh", "phone": "0901234567", "contact_time": "morning"},
            details={"contract": "foreign_long", "contact_time": "morning",
                     "admitted_at": "2026-11-20"},
            status="resolved",
        )  # fmt: skip
        named = await _case(
            session, "grievance", "overtime",
            contact={"name": "Phạm Văn Hùng", "phone": "0987654321"},
            details={"since": "month", "affected": "few"}, status="assigned", assignee_id=binh.id,
        )  # fmt: skip
        session.add_all(
            [
                CaseMessage(case_id=named.id, author="officer", officer_id=binh.id,
                            text="Chào anh, công đoàn đã nhận.", created_at=NOW),
                CaseMessage(case_id=named.id, author="note", officer_id=binh.id,
                            text="Gọi phòng nhân sự thứ Hai.", created_at=NOW),
            ]
        )  # fmt: skip
        for kind, mime, outcome in (
            ("photo", "image/jpeg", None), ("voice", "audio/ogg", ("pending", "")),
            ("document", "application/pdf", ("rejected", "too_large")),
            ("document", "application/pdf", ("failed", "no_reference")),
        ):  # fmt: skip
            await _file(session, named.id, kind, mime, outcome)
        hidden = await _case(
            session, "grievance", "harassment", anonymous=True,
            details={"since": "long", "affected": "most"}, status="waiting_worker",
        )  # fmt: skip
        helped = await _case(
            session, "support", "work_accident",
            contact={"name": "Đỗ Thị Hoa", "phone": "0934567890"},
            details={"urgency": "now", "member": "unsure"}, status="resolved",
        )  # fmt: skip
        other = await _case(
            session, "support", "other", details={"urgency": "later", "member": "not_member"},
            status="closed",
        )  # fmt: skip
        asked = await _case(session, "question", "rights.wage_payment", status="closed")
        erased = await _case(
            session, "grievance", "wages", contact={"name": "Lý Văn Tâm", "phone": "0923456789"},
        )  # fmt: skip
        await cases.detach(session, erased.person_id, [], NOW)
        # Passed up, and still readable (not actionable) by the union it came from: only a
        # membership request stays so, which shows binh the read-only case page.
        moved = await _case(
            session, "membership", "foreign_short", union="CL-CAMLY", escalated=True
        )
        moved.origin_union_id = (await unions.by_code(session, SUA)).id
        canned.save(
            session, None, title="Đã nhận hồ sơ", text="Công đoàn đã nhận hồ sơ của bạn.",
            officer_id=binh.id, now=NOW,
        )  # fmt: skip
        session.add(
            UnansweredQuestion(
                language="vi", key="hom nay so xo", text="Xổ số hôm nay ra số mấy?", count=6,
                askers=[f"a{i}" for i in range(6)], first_asked_at=NOW, last_asked_at=NOW,
            )
        )  # fmt: skip
        await session.commit()
        codes = [c.code for c in (joining, admitted, named, hidden, helped, other, asked, erased,
                                  moved)]  # fmt: skip
        union = (await unions.by_code(session, SUA)).id
    yield {"client": client, "codes": codes, "binh": binh.id, "union": str(union)}
    await client.close()


async def _stored_codes(sessions) -> set[str]:
    """The code values the fixture stored: categories, file kinds, reasons for a file."""
    async with sessions() as session:
        found = set()
        for column in (Case.category, Evidence.kind, Evidence.reason):
            found.update(v for v in await session.scalars(select(column).distinct()) if v)
    return found


class Scan:
    """Load pages and keep what each shows untranslated."""

    def __init__(self, client: TestClient, codes: set[str]) -> None:
        self.client = client
        self.codes = codes
        self.found: dict[str, list[str]] = {}

    async def page(self, path: str, **post: str) -> str:
        if post:
            response = await self.client.post(path, data=post)
        else:
            response = await self.client.get(path)
        html = await response.text()
        assert response.content_type == "text/html", path
        problems = leaks(visible_text(html), self.codes)
        if problems:
            self.found[f"{'POST ' if post else ''}{path} ({response.status})"] = problems
        return html

    async def csv(self, path: str) -> None:
        """A CSV export, each cell read as a phrase of its own."""
        response = await self.client.get(path)
        assert response.content_type == "text/csv", path
        rows = csv.reader(io.StringIO((await response.read()).decode("utf-8-sig")))
        problems = leaks("\n".join(cell for row in rows for cell in row), self.codes)
        if problems:
            self.found[f"{path} ({response.status})"] = problems


QUEUES = (
    "/officer/queue", "/officer/queue?view=mine", "/officer/queue?view=overdue",
    "/officer/queue?view=all", "/officer/queue?view=all&status=waiting_worker&kind=grievance"
    "&category=harassment", "/officer/queue?view=all&kind=membership",
    "/officer/queue?view=all&q=kh%C3%B4ng+c%C3%B3+g%C3%AC", "/officer/stats", "/officer/replies",
)  # fmt: skip


# The queue's CSV export, which officers open in a spreadsheet: every kind, status, category.
EXPORTS = (
    "/officer/export.csv?view=all", "/officer/export.csv?view=all&kind=membership",
    "/officer/export.csv?view=overdue",
)  # fmt: skip


# The words on a page do not depend on the database (the queries behind them are tested on
# both elsewhere); one database keeps this walk of every page short.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_every_page_an_officer_and_an_admin_reach_is_vietnamese(busy, sessions):
    client = busy["client"]
    scan = Scan(client, await _stored_codes(sessions))
    login_page = await scan.page("/officer/login")
    token = re.search(r'name="csrf" value="([^"]+)"', login_page).group(1)
    await scan.page("/officer/login", csrf=token, login="nobody", password="wrong")
    await scan.page("/officer/login", csrf=token, login="nobody", password="wrong")  # too soon
    for login in ("binh", "quantri"):
        assert await log_in(client, login) == 303
        for path in QUEUES:
            await scan.page(path)
        for path in EXPORTS:
            await scan.csv(path)
        for code in busy["codes"]:
            await scan.page(f"/officer/case/{code}")
        code = busy["codes"][2]
        csrf = await csrf_of(client, f"/officer/case/{code}")
        await scan.page(f"/officer/case/{code}?done=reply")
        await scan.page(f"/officer/case/{code}/status", csrf=csrf, status="nope")
        await scan.page(f"/officer/case/{code}/reply", csrf=csrf, text=" ")
        await scan.page(f"/officer/case/{code}/assign", csrf=csrf, officer="999")
        await scan.page(f"/officer/case/{busy['codes'][3]}/admit", csrf=csrf)
        await scan.page("/officer/case/KN-2026-999999")
        await scan.page("/officer/case/KN-2026-999999/file/1")
        await scan.page("/officer/officers")
        await scan.page("/officer/replies", csrf=csrf, title="", text="")
        union = busy["union"]
        for form in (
            {"name": "Mai", "union": union, "role": "officer", "login": "mai", "password": "ngắn"},
            {"name": "Mai", "union": union, "role": "officer", "login": "binh", "password": "x"},
            {"name": "", "union": union, "role": "officer"},
            {"name": "Mai", "union": "999", "role": "officer"},
        ):
            await scan.page("/officer/officers", csrf=csrf, **form)
        await scan.page(f"/officer/officers/{busy['binh']}/invite", csrf=csrf)
        await scan.page("/officer/groups", csrf=csrf, union=union, chat_id="12345")
        binh = f"/officer/officers/{busy['binh']}"
        await scan.page(f"{binh}/password", csrf=csrf, password="ngắn")
        await scan.page(f"{binh}/unlink", csrf=csrf)  # not linked
        await scan.page("/officer/groups/999/delete", csrf=csrf)
        await client.post("/officer/logout", data={"csrf": csrf})
    await scan_ending_access(client, scan, busy)
    assert scan.found == {}, json.dumps(scan.found, indent=1, ensure_ascii=False)


async def scan_ending_access(client: TestClient, scan: Scan, busy: dict) -> None:
    """The admin resets Bình's password, unlinks their own Telegram, removes the group,
    deactivates Bình and is refused deactivating the last administrator."""
    assert await log_in(client, "quantri") == 303
    csrf = await csrf_of(client, "/officer/officers")
    page = await scan.page("/officer/officers")
    me = re.search(r'action="/officer/officers/(\d+)/unlink"', page).group(1)
    group = re.search(r'action="/officer/groups/(\d+)/delete"', page).group(1)
    binh = f"/officer/officers/{busy['binh']}"
    await scan.page(f"{binh}/password", csrf=csrf, password="mat-khau-moi-dai")
    await scan.page(f"/officer/officers/{me}/unlink", csrf=csrf)
    await scan.page(f"{binh}/deactivate", csrf=csrf)  # still in the group: said so
    await scan.page(f"/officer/groups/{group}/delete", csrf=csrf)
    await scan.page(f"{binh}/deactivate", csrf=csrf)  # already
    await scan.page(f"/officer/officers/{me}/deactivate", csrf=csrf)  # the last admin
    await scan.page("/officer/officers")
