"""The officer dashboard over HTTP: logins, CSRF, the queue, a case, and the access rules
from every page and action, on both databases."""

from __future__ import annotations

import codecs
import csv
import io
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from bot import outbox
from bot.services import calendar
from storage import cases, evidence
from storage.models import (
    AuditEntry,
    Case,
    CaseMessage,
    Officer,
    OfficerSession,
    OutboxItem,
)
from tests.support import TEST_VAULT, count
from tests.web.conftest import NOW, PASSWORD, csrf_of, log_in


async def test_logging_in_and_out(dashboard, sessions):
    client = dashboard["client"]
    first = await client.get("/officer/queue", allow_redirects=False)
    assert (first.status, first.headers["Location"]) == (303, "/officer/login")
    assert await log_in(client, "khac", "wrong password") == 401
    assert await log_in(client, "nobody", PASSWORD) == 401
    assert await count(sessions, OfficerSession) == 0
    page = await client.get("/officer/login")
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/officer" in cookie
    forged = await client.post(
        "/officer/login", data={"csrf": "forged", "login": "binh", "password": PASSWORD}
    )
    assert forged.status == 403 and await count(sessions, OfficerSession) == 0
    assert await log_in(client, "binh") == 303
    queue = await client.get("/officer/queue")
    assert queue.status == 200
    for header in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"):
        assert header in queue.headers
    token = await csrf_of(client)
    bad = await client.post("/officer/logout", data={"csrf": "x"}, allow_redirects=False)
    assert bad.status == 403 and await count(sessions, OfficerSession) == 1
    out = await client.post("/officer/logout", data={"csrf": token}, allow_redirects=False)
    assert out.status == 303 and await count(sessions, OfficerSession) == 0
    after = await client.get("/officer/queue", allow_redirects=False)
    assert after.status == 303


async def test_an_idle_session_expires(dashboard, sessions):
    client = dashboard["client"]
    await log_in(client, "binh")
    async with sessions() as session:
        await session.execute(
            update(OfficerSession).values(last_seen_at=datetime.now(UTC) - timedelta(hours=3))
        )
        await session.commit()
    expired = await client.get("/officer/queue", allow_redirects=False)
    assert (expired.status, expired.headers["Location"]) == (303, "/officer/login")


async def test_the_queue_shows_only_the_officers_unions(dashboard):
    client, codes = dashboard["client"], dashboard["codes"]
    await log_in(client, "binh")
    page = await (await client.get("/officer/queue?view=new")).text()
    assert codes["mine"] in page and codes["named"] in page and codes["theirs"] not in page
    every = await (await client.get("/officer/queue?view=all&status=new")).text()
    assert codes["theirs"] not in every
    searched = await (await client.get("/officer/queue?view=all&q=t%C4%83ng+ca")).text()
    assert codes["named"] in searched and codes["mine"] not in searched
    assert "<script>" not in page
    await client.post("/officer/logout", data={"csrf": await csrf_of(client)})
    await log_in(client, "admin")
    everything = await (await client.get("/officer/queue?view=all")).text()
    assert all(code in everything for code in codes.values())


async def test_another_unions_case_cannot_be_opened_acted_on_or_downloaded(dashboard, sessions):
    client, codes = dashboard["client"], dashboard["codes"]
    await log_in(client, "binh")
    token = await csrf_of(client)
    theirs, missing = codes["theirs"], "KN-2026-999999"
    refused = await client.get(f"/officer/case/{theirs}")
    nothing = await client.get(f"/officer/case/{missing}")
    assert refused.status == nothing.status == 403
    assert await refused.text() == await nothing.text()  # guessing tells nothing
    download = await client.get(f"/officer/case/{theirs}/file/{dashboard['photo']}")
    assert download.status == 403
    for action, form in (
        ("reply", {"text": "Chào bạn"}), ("note", {"text": "x"}), ("status", {"status": "closed"}),
        ("assign", {"officer": "1"}), ("escalate", {}),
    ):  # fmt: skip
        response = await client.post(
            f"/officer/case/{theirs}/{action}", data={"csrf": token, **form}, allow_redirects=False
        )
        assert response.status == 403, action
    async with sessions() as session:
        case = await cases.by_code(session, theirs)
        thread = await session.scalars(select(CaseMessage).where(CaseMessage.case_id == case.id))
        assert (case.status, case.assignee_id, case.escalated) == ("new", None, False)
        assert len(thread.all()) == 1
    assert await count(sessions, OutboxItem) == 0
    assert await count(sessions, AuditEntry, AuditEntry.action == "case.denied") == 7


async def test_a_case_page_is_inert_and_keeps_anonymity(dashboard):
    client, codes = dashboard["client"], dashboard["codes"]
    await log_in(client, "binh")
    page = await (await client.get(f"/officer/case/{codes['mine']}")).text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert "không ai được xem danh tính người gửi" in page
    named = await (await client.get(f"/officer/case/{codes['named']}")).text()
    assert "0912345678" in named


async def test_actions_reach_the_worker_and_need_the_csrf_token(dashboard, sessions):
    client, code = dashboard["client"], dashboard["codes"]["named"]
    await log_in(client, "binh")
    forged = await client.post(f"/officer/case/{code}/reply", data={"text": "x", "csrf": "no"})
    assert forged.status == 403
    token = await csrf_of(client, f"/officer/case/{code}")
    reply = await client.post(
        f"/officer/case/{code}/reply",
        data={"csrf": token, "text": "Chào bạn, công đoàn đã nhận."},
        allow_redirects=False,
    )
    assert (reply.status, reply.headers["Location"]) == (303, f"/officer/case/{code}?done=reply")
    note = await client.post(
        f"/officer/case/{code}/note", data={"csrf": token, "text": "Gọi lại thứ Hai"}
    )
    assert note.status == 200
    empty = await client.post(f"/officer/case/{code}/reply", data={"csrf": token, "text": " "})
    assert empty.status == 400
    resolved = await client.post(
        f"/officer/case/{code}/status", data={"csrf": token, "status": "resolved"}
    )
    assert resolved.status == 200
    async with sessions() as session:
        case = (await session.scalars(select(Case).where(Case.code == code))).one()
        rows = (await session.scalars(select(OutboxItem).order_by(OutboxItem.id))).all()
        texts = [outbox.body(TEST_VAULT, row)[0] for row in rows]  # sealed in the outbox
        authors = (
            await session.scalars(
                select(CaseMessage.author)
                .where(CaseMessage.case_id == case.id)
                .order_by(CaseMessage.id)
            )
        ).all()
    assert case.status == "resolved" and case.first_response_at is not None
    assert authors == ["worker", "officer", "note"]
    assert texts[0].endswith("Chào bạn, công đoàn đã nhận.") and "đã giải quyết" in texts[1]


async def test_the_admin_downloads_evidence_as_an_attachment(dashboard, sessions):
    client, code = dashboard["client"], dashboard["codes"]["theirs"]
    await log_in(client, "admin")
    page = await (await client.get(f"/officer/case/{code}")).text()
    link = f"/officer/case/{code}/file/{dashboard['photo']}"
    assert link in page
    download = await client.get(link)
    assert download.status == 200 and await download.read() == b"\xff\xd8x"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert await count(sessions, AuditEntry, AuditEntry.action == "evidence.viewed") == 1


EXPORT_HEADER = [
    "Mã", "Loại", "Loại việc", "Trạng thái", "Công đoàn", "Nơi làm việc", "Phường/xã", "Ẩn danh",
    "Ngày gửi", "Hạn", "Trả lời lần đầu", "Kết thúc", "Cán bộ", "Người gửi",
]  # fmt: skip


async def test_the_csv_export_keeps_anonymity_and_neutralises_formulas(dashboard, sessions):
    client, codes = dashboard["client"], dashboard["codes"]
    async with sessions() as session:
        case = await cases.by_code(session, codes["named"])
        case.details = {"workplace_text": '=HYPERLINK("http://evil")'}
        # 20:30 UTC is 3:30 the next morning in Vietnam: the day officers count from.
        case.created_at = datetime(2026, 12, 5, 20, 30, tzinfo=UTC)
        case.due_at = datetime(2026, 12, 9, 10, 0, tzinfo=UTC)
        await session.commit()
    await log_in(client, "binh")
    response = await client.get("/officer/export.csv?view=all")
    assert response.status == 200 and response.content_type == "text/csv"
    name = re.fullmatch(
        r'attachment; filename="ho-so-(\d{8}-\d{4})\.csv"', response.headers["Content-Disposition"]
    )
    named_at = datetime.strptime(name.group(1), "%Y%m%d-%H%M").replace(tzinfo=calendar.LOCAL_TIME)
    assert abs(datetime.now(UTC) - named_at) < timedelta(minutes=5)  # Vietnam's time too
    raw = await response.read()
    assert raw.startswith(codecs.BOM_UTF8)  # so a spreadsheet reads the accents as UTF-8
    lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    # Headers and values in the officer's words (Vietnamese here), never the stored codes.
    assert lines[0] == EXPORT_HEADER
    rows = {line[0]: dict(zip(EXPORT_HEADER, line, strict=True)) for line in lines[1:]}
    assert set(rows) == {codes["mine"], codes["named"]}  # not the other union's case
    named = rows[codes["named"]]
    assert (named["Loại"], named["Loại việc"], named["Trạng thái"], named["Ẩn danh"]) == (
        "Phản ánh", "Nợ lương, chậm lương", "mới", "Không",
    )  # fmt: skip
    # Vietnam's time, written year first so any spreadsheet reads it as a date and sorts it.
    assert (named["Ngày gửi"], named["Hạn"], named["Kết thúc"]) == (
        "2026-12-06 03:30", "2026-12-09 17:00", "",
    )  # fmt: skip
    assert named["Người gửi"] == "0912345678"
    assert named["Nơi làm việc"] == """'=HYPERLINK("http://evil")"""
    anonymous = rows[codes["mine"]]
    assert anonymous["Ẩn danh"] == "Có" and anonymous["Người gửi"] == ""
    assert not re.search(r"\d{9}", ",".join(anonymous.values()))
    assert await count(sessions, AuditEntry, AuditEntry.action == "cases.exported") == 1


async def test_confirming_a_member_records_the_admission(dashboard, sessions):
    client, code = dashboard["client"], dashboard["codes"]["named"]
    async with sessions() as session:
        case = await cases.by_code(session, code)
        case.kind = "membership"
        await session.commit()
    await log_in(client, "binh")
    token = await csrf_of(client, f"/officer/case/{code}")
    done = await client.post(f"/officer/case/{code}/admit", data={"csrf": token})
    assert done.status == 200
    async with sessions() as session:
        case = await cases.by_code(session, code)
    today_in_vietnam = datetime.now(calendar.LOCAL_TIME).date()
    assert case.status == "resolved" and case.details["admitted_at"] == str(today_in_vietnam)
    # The case page says the day as officers read dates elsewhere, not as it is stored.
    page = await (await client.get(f"/officer/case/{code}")).text()
    admitted = re.search(r"<dt>Đã kết nạp</dt><dd>(.*?)</dd>", page).group(1)
    day = today_in_vietnam
    assert admitted == f"{day.day}/{day.month}/{day.year}"
    grievance = dashboard["codes"]["mine"]
    refused = await client.post(f"/officer/case/{grievance}/admit", data={"csrf": token})
    assert refused.status == 400


async def test_resolving_or_admitting_an_unassigned_case_takes_it_as_on_telegram(
    dashboard, sessions
):
    """bot/services/casework.py: an officer who resolves a case nobody holds, or confirms an
    admission on it, takes it (as a tap on Telegram does); a second admission is refused."""
    client, codes = dashboard["client"], dashboard["codes"]
    async with sessions() as session:
        (await cases.by_code(session, codes["named"])).kind = "membership"
        binh = (await session.scalars(select(Officer).where(Officer.login == "binh"))).one().id
        await session.commit()
    await log_in(client, "binh")
    token = await csrf_of(client)
    resolved = await client.post(
        f"/officer/case/{codes['mine']}/status", data={"csrf": token, "status": "resolved"}
    )
    admitted = await client.post(f"/officer/case/{codes['named']}/admit", data={"csrf": token})
    assert resolved.status == admitted.status == 200
    async with sessions() as session:
        for code in (codes["mine"], codes["named"]):
            case = await cases.by_code(session, code)
            assert (case.status, case.assignee_id) == ("resolved", binh), code
    again = await client.post(f"/officer/case/{codes['named']}/admit", data={"csrf": token})
    assert again.status == 400
    assert f"{codes['named']}: việc kết nạp đã được xác nhận rồi." in await again.text()
    assert await count(sessions, AuditEntry, AuditEntry.action == "member.admitted") == 1


def _vietnamese_date(moment: datetime) -> str:
    local = moment.astimezone(calendar.LOCAL_TIME)
    return f"{local.day}/{local.month}/{local.year}"


async def test_a_case_whose_sender_erased_their_data_says_so_and_takes_no_reply(
    dashboard, sessions
):
    client, codes = dashboard["client"], dashboard["codes"]
    async with sessions() as session:
        named = await cases.by_code(session, codes["named"])
        anonymous = await cases.by_code(session, codes["mine"])
        # The anonymous case is in the person's sealed list (bot/services/reporters.py).
        await cases.detach(session, named.person_id, [anonymous.id], NOW)
        await session.commit()
    note = (
        f"Người gửi đã xoá dữ liệu của mình ngày {_vietnamese_date(NOW)}; không thể trả lời họ "
        "qua bot nữa."
    )
    await log_in(client, "binh")
    code = codes["named"]
    page = await (await client.get(f"/officer/case/{code}")).text()
    reporter = re.search(r"<dt>Người gửi</dt>\s*<dd>(.*?)</dd>", page, re.S).group(1)
    assert reporter.strip() == note
    assert "Người gửi đã xoá dữ liệu của mình: hồ sơ này không còn liên kết tới họ." in page
    assert f'action="/officer/case/{code}/reply"' not in page  # nothing to send a reply to
    hidden = await (await client.get(f"/officer/case/{codes['mine']}")).text()
    assert "không ai được xem danh tính người gửi" in hidden and note in hidden
    # A reply posted from a page opened before the erasure is kept, and the officer told.
    token = await csrf_of(client, f"/officer/case/{code}")
    reply = await client.post(
        f"/officer/case/{code}/reply", data={"csrf": token, "text": "Chào bạn"},
        allow_redirects=False,
    )  # fmt: skip
    assert reply.headers["Location"] == f"/officer/case/{code}?done=unreachable"
    after = await (await client.get(reply.headers["Location"])).text()
    assert (
        "Đã lưu vào hồ sơ, nhưng người gửi đã xoá dữ liệu của mình nên câu trả lời không đến "
        "được với họ."
    ) in after
    assert await count(sessions, OutboxItem) == 0


async def test_the_time_to_call_is_shown_in_words(dashboard, sessions):
    client, code = dashboard["client"], dashboard["codes"]["named"]
    async with sessions() as session:
        case = await cases.by_code(session, code)
        case.contact_sealed = TEST_VAULT.seal(
            '{"name": "Lan", "phone": "0912345678", "contact_time": "evening"}'
        )
        await session.commit()
    await log_in(client, "binh")
    page = await (await client.get(f"/officer/case/{code}")).text()
    assert "Lan · 0912345678 · Buổi tối" in page and "evening" not in page
    exported = (await (await client.get("/officer/export.csv?view=all")).read()).decode()
    assert "Lan · 0912345678 · Buổi tối" in exported and "evening" not in exported


async def test_pages_forbid_a_base_element(dashboard):
    """No injected <base href> can redirect the page's relative links and form targets."""
    page = await dashboard["client"].get("/officer/login")
    policy = [part.strip() for part in page.headers["Content-Security-Policy"].split(";")]
    assert "base-uri 'none'" in policy


async def test_after_escalation_the_origin_union_sees_nothing_of_a_grievance(dashboard, sessions):
    # The company's union may be led by a manager: once a report is passed up, neither the
    # report, its files nor a named reporter's phone stay within its reach.
    client, codes = dashboard["client"], dashboard["codes"]
    named, support = codes["named"], codes["mine"]
    async with sessions() as session:
        case = await cases.by_code(session, named)
        photo = evidence.receive(
            session, channel="telegram", reference="y", kind="photo", mime="image/jpeg",
            size=3, now=NOW,
        )  # fmt: skip
        await session.flush()
        await evidence.attach(session, [photo.id], case.id)
        await evidence.store(session, photo.id, mime="image/jpeg", content=b"\xff\xd8y", now=NOW)
        (await cases.by_code(session, support)).kind = "support"  # a hardship request too
        await session.commit()
    await log_in(client, "binh")
    download = f"/officer/case/{named}/file/{photo.id}"
    assert (await client.get(download)).status == 200  # while it is the union's own
    token = await csrf_of(client, f"/officer/case/{named}")
    moved = []
    for code in (named, support):
        up = await client.post(
            f"/officer/case/{code}/escalate", data={"csrf": token}, allow_redirects=False
        )
        moved.append((up.status, up.headers["Location"]))
    missing = await (await client.get("/officer/case/KN-2026-999999")).text()
    for code in (named, support):
        page = await client.get(f"/officer/case/{code}")
        assert page.status == 403 and await page.text() == missing, code
    assert (await client.get(download)).status == 403
    exported = (await (await client.get("/officer/export.csv?view=all")).read()).decode()
    assert named not in exported and support not in exported and "0912345678" not in exported
    every = await (await client.get("/officer/queue?view=all")).text()
    assert named not in every and support not in every
    async with sessions() as session:
        passed = await cases.by_code(session, named)
        assert passed.escalated and passed.origin_union_id != passed.union_id
    # After passing it up the officer lands on the queue, not on a page they cannot open.
    assert moved == [(303, "/officer/queue")] * 2
