"""Broadcasts on the dashboard over HTTP, on both databases: composing with the exact count
confirmed, who may send to whom, the two-person rule for the whole federation, a test sent to
oneself, pause/resume/cancel, the progress JSON, the report, and forged forms and ids (a
clear refusal, nothing saved).

Nothing here waits on bot/broadcaster.py: broadcasts are scheduled for tomorrow, and their
progress is made by hand with storage.broadcasts.start and settle (the rows put out of a
sender's reach), as the broadcaster would."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from markupsafe import escape
from PIL import Image as PILImage
from sqlalchemy import select, update

from bot import outbox
from bot.app import create_app
from bot.config import CONTENT_DIR
from bot.services import accounts, broadcasts
from bot.services import polls as poll_service
from bot.services.broadcasts import MAX_BODY, Audience
from bot.services.i18n import Catalogs
from storage import broadcasts as stored
from storage import cases, people, subscriptions, unions
from storage import polls as stored_polls
from storage.localtime import LOCAL_TIME
from storage.models import (
    AuditEntry,
    Broadcast,
    BroadcastDelivery,
    BroadcastImage,
    Officer,
    OutboxItem,
)
from tests.fixtures.browser import SCREENSHOTS
from tests.fixtures.running_bot import serve
from tests.support import TEST_VAULT, count, jpeg_with_gps, poll_worker, sent_poll
from tests.untranslated import leaks, visible_text
from tests.web.conftest import NOW, PASSWORD, add_officers, csrf_of, log_in, log_in_browser

NEW = "/officer/broadcasts/new"
SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
TEXT = "Công đoàn tổ chức tư vấn pháp luật miễn phí vào Chủ nhật này."


def tomorrow(hour: int = 10) -> str:
    """A datetime-local value: tomorrow at `hour`, Vietnam time."""
    day = datetime.now(UTC).astimezone(LOCAL_TIME).date() + timedelta(days=1)
    return f"{day.isoformat()}T{hour:02d}:00"


async def subscribe(
    session: Any, union_code: str | None, n: int, *, left: int = 0, topic: str = "policy",
    anonymous: bool = False, tag: str = "",
) -> None:  # fmt: skip
    """`n` workers subscribed to `topic` on Telegram (and `left` more who blocked the bot),
    linked to a union by a request they filed there under their name (or anonymously, or
    with no request when union_code is None)."""
    union = await unions.by_code(session, union_code) if union_code else None
    for i in range(n + left):
        person = await people.create(session, "telegram", f"{union_code}-{tag}{i}", "vi", NOW)
        person.blocked = i >= n
        await subscriptions.subscribe(session, person.id, [topic], NOW)
        if union is not None:
            await cases.open(
                session, kind="grievance", union_id=union.id, category="wages",
                person_id=None if anonymous else person.id, anonymous=anonymous,
                text="Công ty trả lương chậm", now=NOW, due_at=NOW + timedelta(days=2),
            )  # fmt: skip
    await session.flush()


async def seed(sessions: Any) -> dict[str, int]:
    """Subscribers: 3 in GR-SUACAONGUYEN (under CL-CAMLY) and 1 there who left, 2 in
    GR-THONGXANH, one who filed only an anonymous request there, one with no request, one
    of another topic; and a second admin. The unions' ids by code."""
    async with sessions() as session:
        await subscribe(session, "GR-SUACAONGUYEN", 3, left=1)
        await subscribe(session, "GR-THONGXANH", 2)
        await subscribe(session, "GR-SUACAONGUYEN", 1, anonymous=True, tag="anon")
        await subscribe(session, None, 1)
        await subscribe(session, "GR-SUACAONGUYEN", 1, topic="support", tag="support")
        await accounts.add_officer(
            session, union_code="FED-ROOT", name="Admin Hai", role="admin", now=NOW,
            login="admin2", password=PASSWORD,
        )  # fmt: skip
        codes = ("FED-ROOT", "CL-CAMLY", "CL-XUANHUONG", "GR-SUACAONGUYEN", "GR-THONGXANH")
        found = {code: (await unions.by_code(session, code)).id for code in codes}
        await session.commit()
    return found


def form(csrf: str, union: int | str, action: str, **values: Any) -> list[tuple[str, str]]:
    """The compose form's fields, as a browser posts them (a field may repeat)."""
    fields = {"csrf": csrf, "text": TEXT, "text_en": "", "link": "", "topic": "policy",
              "union": str(union), "send_at": tomorrow(), "action": action}  # fmt: skip
    channels = values.pop("channels", ["telegram", "zalo"])
    many = {k: values.pop(k) for k in ("ward", "workplace", "language") if k in values}
    fields.update({k: str(v) for k, v in values.items()})
    posted = list(fields.items()) + [("channel", c) for c in channels]
    return posted + [(k, str(v)) for k, vs in many.items() for v in vs]


async def compose(client: Any, union: int, **values: Any) -> Any:
    """Send with the count the confirmation shows; the answer to the confirmation."""
    csrf = await csrf_of(client, NEW)
    asked = await client.post(NEW, data=form(csrf, union, "send", **values))
    assert asked.status == 200, await asked.text()
    shown = re.search(r'name="counted" value="(\d+)"', await asked.text()).group(1)
    return await client.post(
        NEW, data=form(csrf, union, "confirm", counted=shown, **values), allow_redirects=False
    )


async def start_by_hand(sessions: Any, broadcast_id: int) -> list[int]:
    """What the broadcaster does when a broadcast is due: its recipients fixed, sending;
    the rows then held back from any sender (a retry far ahead). Their ids, pending first."""
    async with sessions() as session:
        broadcast = await session.get(Broadcast, broadcast_id)
        filters = await broadcasts.filters(session, Audience.of(broadcast))
        assert await stored.start(session, broadcast_id, filters, datetime.now(UTC)) > 0
        await session.execute(
            update(BroadcastDelivery)
            .where(BroadcastDelivery.broadcast_id == broadcast_id)
            .values(next_attempt_at=datetime.now(UTC) + timedelta(days=1))
        )
        ids = await session.scalars(
            select(BroadcastDelivery.id)
            .where(BroadcastDelivery.broadcast_id == broadcast_id)
            .order_by(BroadcastDelivery.status != "pending", BroadcastDelivery.id)
        )
        found = list(ids)
        await session.commit()
    return found


async def settle(sessions: Any, ids: list[int], status: str, reason: str | None = None) -> None:
    async with sessions() as session:
        await stored.settle(session, ids, status, datetime.now(UTC), reason=reason)
        await session.commit()


async def audited(sessions: Any) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))
        return [action for action in rows if action.startswith("broadcast.")]


async def only_broadcast(sessions: Any) -> Broadcast:
    async with sessions() as session:
        return (await session.scalars(select(Broadcast))).one()


async def test_an_admin_counts_then_sends_to_a_cluster(dashboard, sessions):
    client = dashboard["client"]
    ids = await seed(sessions)
    await log_in(client, "admin")
    page = await (await client.get("/officer/broadcasts")).text()
    assert 'href="/officer/broadcasts"' in page and "Thông báo" in page  # in the navigation
    assert "Chưa có thông báo nào." in page
    csrf = await csrf_of(client, NEW)

    # The exact count: subscribers of the topic linked by a named request to the cluster's
    # unions; one more who left is counted apart. Counting needs no text yet.
    counted = await client.post(NEW, data=form(csrf, ids["CL-CAMLY"], "count", text=""))
    shown = await counted.text()
    assert counted.status == 200
    assert "3 người lao động sẽ nhận được." in shown and "Thêm 1 người" in shown
    async with sessions() as session:
        exact = await broadcasts.count(session, Audience(ids["CL-CAMLY"]))
    assert exact == (3, 1)
    # The whole federation: every subscriber of the topic, linked or not.
    everyone = await client.post(NEW, data=form(csrf, ids["FED-ROOT"], "count"))
    assert "7 người lao động sẽ nhận được." in await everyone.text()
    # 22:00 is within the quiet hours (21:00-06:00): the start waits for 06:00.
    quiet = await client.post(NEW, data=form(csrf, ids["CL-CAMLY"], "count", send_at=tomorrow(22)))
    assert "giờ yên lặng" in await quiet.text() and "06:00" in await quiet.text()

    # "Send" shows the count to confirm; nothing is saved until it is confirmed.
    asked = await client.post(NEW, data=form(csrf, ids["CL-CAMLY"], "send"))
    assert "Xác nhận: gửi cho 3 người lao động" in await asked.text()
    assert await count(sessions, Broadcast) == 0
    stale = await client.post(NEW, data=form(csrf, ids["CL-CAMLY"], "confirm", counted="2"))
    assert stale.status == 409 and "Số người nhận đã thay đổi" in await stale.text()
    assert await count(sessions, Broadcast) == 0

    sent = await compose(client, ids["CL-CAMLY"])
    assert sent.status == 303
    broadcast = await only_broadcast(sessions)
    assert sent.headers["Location"] == f"/officer/broadcasts/{broadcast.id}?done=created"
    assert (broadcast.status, broadcast.union_id, broadcast.text) == (
        "scheduled", ids["CL-CAMLY"], TEXT,
    )  # fmt: skip
    assert not broadcast.whole_federation
    assert await audited(sessions) == ["broadcast.created"]
    page = await (await client.get(sent.headers["Location"])).text()
    assert "Đã lưu." in page and "Đã hẹn giờ" in page and TEXT in page
    listed = await (await client.get("/officer/broadcasts")).text()
    assert f'href="/officer/broadcasts/{broadcast.id}"' in listed and "chưa bắt đầu" in listed


async def test_an_officer_sends_only_within_their_union(dashboard, sessions):
    client = dashboard["client"]
    ids = await seed(sessions)
    await log_in(client, "binh")  # GR-SUACAONGUYEN
    page = await (await client.get(NEW)).text()
    offered = re.search(r'<select name="union">(.*?)</select>', page, re.S).group(1)
    assert re.findall(r'value="(\d+)"', offered) == [str(ids["GR-SUACAONGUYEN"])]
    for union in (ids["CL-CAMLY"], ids["GR-THONGXANH"], ids["FED-ROOT"]):
        refused = await compose_refused(client, union)
        assert "Bạn chỉ gửi được cho công đoàn của mình" in refused
    assert await count(sessions, Broadcast) == 0
    assert await audited(sessions) == []

    sent = await compose(client, ids["GR-SUACAONGUYEN"])
    assert sent.status == 303
    own = await only_broadcast(sessions)
    assert own.status == "scheduled"

    # The admin's broadcast to the cluster above: as if it did not exist.
    await client.post("/officer/logout", data={"csrf": await csrf_of(client)})
    await log_in(client, "admin")
    await compose(client, ids["CL-CAMLY"])
    async with sessions() as session:
        theirs = await session.scalar(select(Broadcast).where(Broadcast.id != own.id))
    await client.post("/officer/logout", data={"csrf": await csrf_of(client)})
    await log_in(client, "binh")
    listed = await (await client.get("/officer/broadcasts")).text()
    assert f"/officer/broadcasts/{own.id}" in listed
    assert f"/officer/broadcasts/{theirs.id}" not in listed
    missing = await (await client.get("/officer/broadcasts/99999")).text()
    for path in (theirs.id, 99999, "abc"):
        page = await client.get(f"/officer/broadcasts/{path}")
        assert page.status == 404 and await page.text() == missing
        for tail in ("/report", "/progress.json"):
            assert (await client.get(f"/officer/broadcasts/{path}{tail}")).status == 404
    csrf = await csrf_of(client)
    cancel = await client.post(f"/officer/broadcasts/{theirs.id}/cancel", data={"csrf": csrf})
    assert cancel.status == 404
    async with sessions() as session:
        assert (await session.get(Broadcast, theirs.id)).status == "scheduled"


async def compose_refused(
    client: Any, union: int | str, steps: tuple[str, ...] = ("count", "test", "send", "confirm"),
    **values: Any,
) -> str:  # fmt: skip
    """Try these steps of the form with these values: each refused (400); the page shown."""
    csrf = await csrf_of(client, NEW)
    for action in steps:
        answer = await client.post(NEW, data=form(csrf, union, action, counted="0", **values))
        assert answer.status == 400, (action, values)
    return await answer.text()


async def test_the_whole_federation_needs_a_second_admin(dashboard, sessions):
    client = dashboard["client"]
    ids = await seed(sessions)
    await log_in(client, "admin")
    asked = await client.post(NEW, data=form(await csrf_of(client, NEW), ids["FED-ROOT"], "send"))
    assert "cần một quản trị viên khác duyệt" in await asked.text()
    sent = await compose(client, ids["FED-ROOT"])
    assert sent.headers["Location"].endswith("?done=awaiting")
    broadcast = await only_broadcast(sessions)
    assert (broadcast.status, broadcast.whole_federation) == ("awaiting_approval", True)
    page = await (await client.get(sent.headers["Location"])).text()
    assert "bạn là người soạn nên không tự duyệt được" in page
    assert f"/officer/broadcasts/{broadcast.id}/approve" not in page
    csrf = await csrf_of(client)
    mine = await client.post(f"/officer/broadcasts/{broadcast.id}/approve", data={"csrf": csrf})
    assert mine.status == 400 and "người soạn không tự duyệt được" in await mine.text()
    assert (await only_broadcast(sessions)).status == "awaiting_approval"
    await client.post("/officer/logout", data={"csrf": csrf})

    await log_in(client, "binh")  # an officer of one union does not see it at all
    assert (await client.get(f"/officer/broadcasts/{broadcast.id}")).status == 404
    await client.post("/officer/logout", data={"csrf": await csrf_of(client)})

    await log_in(client, "admin2")
    page = await (await client.get(f"/officer/broadcasts/{broadcast.id}")).text()
    assert ">Duyệt</button>" in page
    csrf = await csrf_of(client)
    forged = await client.post(f"/officer/broadcasts/{broadcast.id}/approve", data={})
    assert forged.status == 403
    approved = await client.post(
        f"/officer/broadcasts/{broadcast.id}/approve", data={"csrf": csrf}, allow_redirects=False
    )
    assert approved.status == 303
    async with sessions() as session:
        broadcast = await session.get(Broadcast, broadcast.id)
        second = await session.scalar(select(Officer.id).where(Officer.login == "admin2"))
    assert (broadcast.status, broadcast.approved_by) == ("scheduled", second)
    assert await audited(sessions) == ["broadcast.created", "broadcast.approved"]
    report = await (await client.get(f"/officer/broadcasts/{broadcast.id}/report")).text()
    assert "Admin Hai đã duyệt lúc" in report
    again = await client.post(f"/officer/broadcasts/{broadcast.id}/approve", data={"csrf": csrf})
    assert again.status == 400


async def test_the_other_admins_are_asked_on_telegram_as_with_thongbao(dashboard, sessions):
    """A broadcast to the whole federation composed here asks the other linked admins on
    Telegram, with the same message and one-tap button as /thongbao; the author is told."""
    client = dashboard["client"]
    ids = await seed(sessions)
    async with sessions() as session:
        for login, chat in (("admin", "7001"), ("admin2", "7002")):
            await session.execute(
                update(Officer).where(Officer.login == login).values(telegram_user_id=chat)
            )
        await session.commit()
    await log_in(client, "admin")
    sent = await compose(client, ids["FED-ROOT"])
    broadcast = await only_broadcast(sessions)
    assert sent.headers["Location"] == f"/officer/broadcasts/{broadcast.id}?done=asked"
    page = await (await client.get(sent.headers["Location"])).text()
    assert "các quản trị viên khác đã được báo qua Telegram" in page
    async with sessions() as session:
        [row] = (await session.scalars(select(OutboxItem))).all()
    assert (row.channel, row.chat_id) == ("telegram", "7002")  # not the author
    text, buttons = outbox.body(TEST_VAULT, row)
    assert text.startswith(
        f"Admin đề nghị bạn duyệt thông báo gửi toàn Liên đoàn (#{broadcast.id}, "
        "“Tin chính sách”, hiện có 7 người nhận). Người lao động sẽ nhận:\n\n" + TEXT
    )
    assert text.endswith(f"Bạn bấm Duyệt bên dưới, hoặc gửi /duyet {broadcast.id}.")
    assert buttons == [[["Duyệt", f"bc:approve:{broadcast.id}"]]]
    # To a cluster: nobody is asked.
    await compose(client, ids["CL-CAMLY"])
    assert await count(sessions, OutboxItem) == 1


async def test_a_test_goes_to_the_officers_own_telegram(dashboard, sessions):
    client = dashboard["client"]
    ids = await seed(sessions)
    await log_in(client, "admin")
    csrf = await csrf_of(client, NEW)
    unlinked = await client.post(NEW, data=form(csrf, ids["CL-CAMLY"], "test"))
    shown = await unlinked.text()
    assert unlinked.status == 400 and "liên kết Telegram trước" in shown
    assert TEXT in shown  # what was written is kept
    assert await count(sessions, OutboxItem) == 0
    async with sessions() as session:
        await session.execute(
            update(Officer).where(Officer.login == "admin").values(telegram_user_id="7001")
        )
        await session.commit()
    tested = await client.post(
        NEW, data=form(csrf, ids["CL-CAMLY"], "test", link="https://congdoan.example/tu-van")
    )
    assert tested.status == 200 and "Đã gửi bản thử đến Telegram của bạn" in await tested.text()
    async with sessions() as session:
        [row] = (await session.scalars(select(OutboxItem))).all()
    assert (row.channel, row.chat_id) == ("telegram", "7001")
    text, _buttons = outbox.body(TEST_VAULT, row)
    assert TEXT in text and "https://congdoan.example/tu-van" in text and "/dung" in text
    assert await count(sessions, Broadcast) == 0


async def test_pause_resume_cancel_and_the_progress(dashboard, sessions):
    client = dashboard["client"]
    ids = await seed(sessions)
    await log_in(client, "admin")
    await compose(client, ids["CL-CAMLY"])
    broadcast = await only_broadcast(sessions)
    base = f"/officer/broadcasts/{broadcast.id}"
    progress = await (await client.get(f"{base}/progress.json")).json()
    assert (progress["status"], progress["total"], progress["sent"]) == ("scheduled", 0, 0)

    pending = await start_by_hand(sessions, broadcast.id)  # 3 to send, 1 who left
    await settle(sessions, pending[:1], "sent")
    await settle(sessions, pending[1:2], "failed", reason="forbidden")
    progress = await (await client.get(f"{base}/progress.json")).json()
    assert progress["status"] == "sending" and progress["status_label"] == "Đang gửi"
    counts = {k: progress[k] for k in ("total", "sent", "pending", "failed", "unreachable")}
    assert counts == {"total": 4, "sent": 1, "pending": 1, "failed": 1, "unreachable": 1}
    reasons = {r["reason"]: (r["label"], r["count"]) for r in progress["reasons"]}
    assert reasons == {"left": ("đã rời bot (chặn bot)", 1), "forbidden": ("forbidden", 1)}
    assert progress["rate"] > 0 and "tin/giây" in progress["rate_text"]
    assert progress["expected_end"] is not None and not progress["finished"]
    page = await (await client.get(base)).text()
    assert 'data-field="sent">1<' in page and "/officer/static/broadcasts.js" in page

    csrf = await csrf_of(client)
    for action, status in (("pause", "paused"), ("resume", "sending"), ("cancel", "cancelled")):
        done = await client.post(f"{base}/{action}", data={"csrf": csrf}, allow_redirects=False)
        assert (done.status, done.headers["Location"]) == (303, f"{base}?done={action}")
        assert (await only_broadcast(sessions)).status == status
    late = await client.post(f"{base}/pause", data={"csrf": csrf})
    assert late.status == 409 and "đã sang bước khác" in await late.text()
    forged = await client.post(f"{base}/explode", data={"csrf": csrf})
    assert forged.status == 404
    assert (await only_broadcast(sessions)).status == "cancelled"
    assert await audited(sessions) == [
        "broadcast.created", "broadcast.pause", "broadcast.resume", "broadcast.cancel",
    ]  # fmt: skip
    progress = await (await client.get(f"{base}/progress.json")).json()
    assert (progress["skipped"], progress["pending"], progress["finished"]) == (1, 0, True)

    report = await client.get(f"{base}/report")
    shown = await report.text()
    assert report.status == 200 and TEXT in shown and "Admin" in shown
    assert re.search(r'data-outcome="sent"><th scope="row">[^<]+</th><td class="n">1<', shown)
    assert 'data-reason="cancelled"' in shown and "Không cần: không gửi toàn Liên đoàn" in shown
    listed = await (await client.get("/officer/broadcasts")).text()
    assert "Đã gửi 1/4" in listed and "Đã huỷ" in listed


async def test_forms_without_their_token_are_refused(dashboard, sessions):
    client = dashboard["client"]
    ids = await seed(sessions)
    await log_in(client, "admin")
    for csrf in ("", "forged"):
        refused = await client.post(NEW, data=form(csrf, ids["CL-CAMLY"], "confirm", counted=3))
        assert refused.status == 403
    assert await count(sessions, Broadcast) == 0
    await compose(client, ids["CL-CAMLY"])
    broadcast = await only_broadcast(sessions)
    for action in ("pause", "cancel"):
        refused = await client.post(f"/officer/broadcasts/{broadcast.id}/{action}", data={})
        assert refused.status == 403
    assert (await only_broadcast(sessions)).status == "scheduled"
    assert await audited(sessions) == ["broadcast.created"]


async def test_forged_or_bad_values_are_refused_and_nothing_is_saved(dashboard, sessions):
    client = dashboard["client"]
    ids = await seed(sessions)
    await log_in(client, "admin")
    cluster = ids["CL-CAMLY"]
    bad = [
        ({"topic": "politics"}, "Bạn chọn loại tin cho thông báo này."),
        ({"link": "javascript:alert(1)"}, "Đường dẫn phải là địa chỉ web"),
        ({"link": "congdoan.example"}, "Đường dẫn phải là địa chỉ web"),
        ({"text": "x" * (MAX_BODY + 1)}, "Nội dung quá dài"),
        ({"text_en": "y" * (MAX_BODY + 1)}, "Nội dung quá dài"),
        ({"channels": []}, "Bạn chọn ít nhất một ứng dụng nhắn tin."),
        ({"channels": ["sms"]}, "Bạn chọn ít nhất một ứng dụng nhắn tin."),
        ({"language": ["fr"]}, "ngôn ngữ của người lao động trong danh sách"),
        ({"ward": ["99999"]}, "chọn phường và nơi làm việc trong danh sách"),
        ({"workplace": ["abc"]}, "chọn phường và nơi làm việc trong danh sách"),
        ({"send_at": "ngày mai"}, "ô chọn ngày giờ"),
        ({"send_at": "0001-01-01T00:00"}, "ô chọn ngày giờ"),
        ({"send_at": "2020-01-01T08:00"}, "Thời gian này đã qua."),
    ]
    for values, message in bad:
        shown = await compose_refused(client, cluster, **values)
        assert message in shown, values
    for union in ("999999", "abc", ""):
        shown = await compose_refused(client, union)
        assert "Bạn chỉ gửi được cho công đoàn của mình" in shown
    empty = await compose_refused(client, cluster, ("test", "send", "confirm"), text="   ")
    assert "Bạn viết nội dung thông báo bằng tiếng Việt." in empty
    kept = await compose_refused(client, cluster, link="ftp://x", text_en="Free legal advice")
    assert TEXT in kept and "Free legal advice" in kept and 'value="ftp://x"' in kept
    csrf = await csrf_of(client, NEW)
    forged = await client.post(NEW, data=form(csrf, cluster, "launch"))
    assert forged.status == 400
    assert await count(sessions, Broadcast) == 0 and await count(sessions, OutboxItem) == 0
    assert await audited(sessions) == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_composing_and_following_a_broadcast_in_the_browser(
    browser, settings, sessions, size
):
    """An admin in headless Chromium, on a desktop and a 390 px phone: writes, counts,
    sends, confirms, then watches the progress change as deliveries are recorded, without
    reloading; nothing wider than the phone. Screenshots: artifacts/screenshots/broadcast-*."""
    bot = await serve(create_app(settings))  # imports the sample directory on start
    try:
        async with sessions() as session:
            await add_officers(session)
            await session.commit()
        ids = await seed(sessions)
        page = await browser.new_page(viewport=SIZES[size])
        await log_in_browser(page, bot.url, "admin")
        await page.click("nav a[href='/officer/broadcasts']")
        await page.click("a[href='/officer/broadcasts/new']")
        await page.fill("textarea[name=text]", TEXT)
        await page.select_option("select[name=union]", str(ids["CL-CAMLY"]))
        await page.fill("input[name=send_at]", tomorrow())
        await page.click("button[value=count]")
        assert "3 người lao động sẽ nhận được." in await page.locator("#count").inner_text()
        # The count's box and the message's are the broadcast pages' own (not the queue's).
        assert await left_border(page, "#count") == "4px"
        await page.click("button[value=send]")
        confirm = page.locator("#count button[value=confirm]")
        assert "3 người lao động" in await confirm.inner_text()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / f"broadcast-compose-{size}.png"))
        await assert_fits(page, size)
        await confirm.click()
        await page.wait_for_url("**/officer/broadcasts/*?done=created")
        broadcast = await only_broadcast(sessions)
        assert await page.locator("form[action$='/pause']").is_visible()
        assert await left_border(page, ".preview") == "4px"
        assert await page.locator("form[action$='/resume']").is_hidden()

        pending = await start_by_hand(sessions, broadcast.id)
        await field_shows(page, "total", "4")
        await field_shows(page, "unreachable", "1")
        await settle(sessions, pending[:2], "sent")
        await field_shows(page, "sent", "2")
        assert await page.locator("#progress progress").get_attribute("value") in ("3", "3.0")
        assert "đã rời bot" in await page.locator("[data-field=reasons]").inner_text()
        assert await page.locator("[data-field=status_label]").inner_text() == "Đang gửi"
        await page.screenshot(path=str(SCREENSHOTS / f"broadcast-progress-{size}.png"))
        await assert_fits(page, size)

        await page.click("form[action$='/pause'] button")
        await page.wait_for_url("**?done=pause")
        assert await page.locator("form[action$='/resume']").is_visible()
        await page.click("a[href$='/report']")
        assert "Báo cáo thông báo" in await page.locator("h1").inner_text()
        await page.screenshot(
            path=str(SCREENSHOTS / f"broadcast-report-{size}.png"), full_page=True
        )
        await assert_fits(page, size)
        await page.click("nav a[href='/officer/broadcasts']")
        assert await page.locator("ul.broadcasts li").count() == 1
        await page.screenshot(path=str(SCREENSHOTS / f"broadcast-list-{size}.png"))
        await assert_fits(page, size)
    finally:
        await bot.stop()


async def left_border(page: Any, selector: str) -> str:
    return await page.locator(selector).first.evaluate("(e) => getComputedStyle(e).borderLeftWidth")


async def field_shows(page: Any, field: str, value: str) -> None:
    """Wait (a few polls at most) until the progress shows `value` for `field`."""
    locator = page.locator(f"#progress [data-field={field}]")
    for _ in range(40):
        if (await locator.inner_text()).strip() == value:
            return
        await page.wait_for_timeout(250)
    raise AssertionError(f"{field} shows {await locator.inner_text()!r}, not {value!r}")


async def assert_fits(page: Any, size: str) -> None:
    if size == "phone":
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390


# ---------------------------------------------------------------------------- quick polls

ANSWERS = ("Có", "Không", "Chưa biết")


def poll_form(csrf: str, union: int, action: str, answers: list[str], **values: Any) -> list:
    """The compose form with a quick poll's answer fields (six, as the form has them)."""
    fields = [*answers, *[""] * 6][:6] if len(answers) <= 6 else answers
    return form(csrf, union, action, **values) + [("poll_option", a) for a in fields]


async def test_a_quick_poll_is_composed_with_its_answers_checked(dashboard, sessions):
    client = dashboard["client"]
    ids = await seed(sessions)
    await log_in(client, "admin")
    page = await (await client.get(NEW)).text()
    assert page.count('name="poll_option"') == 6 and 'maxlength="40"' in page
    csrf = await csrf_of(client, NEW)
    bad = [
        (["Có"], "Khảo sát nhanh cần ít nhất 2 phương án trả lời."),
        (["Có", " có "], "Các phương án trả lời của khảo sát phải khác nhau."),
        (["Có", "x" * 41], "Mỗi phương án trả lời tối đa 40 ký tự"),
        ([str(i) for i in range(7)], "Khảo sát nhanh có tối đa 6 phương án trả lời."),
    ]
    for answers, message in bad:
        for action in ("count", "test", "send"):
            refused = await client.post(NEW, data=poll_form(csrf, ids["CL-CAMLY"], action, answers))
            assert refused.status == 400 and message in await refused.text(), (answers, action)
    async with sessions() as session:
        await session.execute(
            update(Officer).where(Officer.login == "admin").values(telegram_user_id="7001")
        )
        await session.commit()
    typed = ["", " Có ", "", "Không", "Chưa biết", ""]  # empty lines are left out
    tested = await client.post(NEW, data=poll_form(csrf, ids["CL-CAMLY"], "test", typed))
    assert tested.status == 200
    async with sessions() as session:
        [row] = (await session.scalars(select(OutboxItem))).all()
    _text, buttons = outbox.body(TEST_VAULT, row)
    assert [label for [[label, _payload]] in buttons] == list(ANSWERS)
    asked = await client.post(NEW, data=poll_form(csrf, ids["CL-CAMLY"], "send", typed))
    shown = await asked.text()
    assert "Khảo sát nhanh: các phương án trả lời được gửi thành nút bấm" in shown
    assert leaks(visible_text(shown)) == []
    assert re.findall(r"<li>([^<]+)</li>", shown.split('id="count"')[1]) == list(ANSWERS)
    counted = re.search(r'name="counted" value="(\d+)"', shown).group(1)
    confirm = poll_form(csrf, ids["CL-CAMLY"], "confirm", typed, counted=counted)
    assert (await client.post(NEW, data=confirm, allow_redirects=False)).status == 303
    broadcast = await only_broadcast(sessions)
    assert (broadcast.poll_options, broadcast.text) == (list(ANSWERS), TEXT)


async def answered_poll(sessions: Any) -> Broadcast:
    """A poll to 30 workers (15 of GR-SUACAONGUYEN, 15 of GR-THONGXANH) that 20 answered:
    "Có" 9 + 3, "Không" 6 + 0, "Chưa biết" 0 + 2."""
    async with sessions() as session:
        for i in range(30):
            union = "GR-SUACAONGUYEN" if i < 15 else "GR-THONGXANH"
            await poll_worker(session, f"w{i}", NOW, union=union)
        poll = await sent_poll(session, ANSWERS, NOW)
        given = [0] * 9 + [1] * 6 + [0] * 3 + [2] * 2
        people_ids = (await session.scalars(select(BroadcastDelivery.person_id))).all()
        for person_id, option in zip(sorted(people_ids), given, strict=False):
            facts = await poll_service.known_segment(session, person_id)
            tag = poll_service.respondent(TEST_VAULT, poll.id, person_id)
            await stored_polls.record(session, poll.id, tag, option, facts, NOW)
        await session.commit()
    return poll


def table_cells(page: str, key: str) -> list[list[str]]:
    """A results table's rows as the page shows them: the label, then each cell."""
    table = re.search(rf'data-table="{key}">(.*?)</table>', page, re.S).group(1)
    body = table.split("<tbody>")[1]
    return [
        [html.unescape(cell) for cell in re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


async def test_poll_results_and_their_csv_hide_small_cells(dashboard, sessions):
    """20 of 30 answered. By answer: "Chưa biết" (2) is "<5" and "Không" (6) hidden with
    it, as the total of 20 would give it away. By union: the 3 of one union is "<5" and the
    9 beside it hidden (the 12 would give the 3 away); the hidden answers' columns show
    nothing. The CSV says the same; another union's officer sees neither."""
    client = dashboard["client"]
    poll = await answered_poll(sessions)
    await log_in(client, "admin")
    page = await (await client.get(f"/officer/broadcasts/{poll.id}")).text()
    assert "Đến nay đã có 20 người lao động trả lời." in page
    assert 'id="chart-poll"' in page and "/officer/static/stats.js" in page
    assert leaks(visible_text(page)) == []
    assert table_cells(page, "answers") == [["Có", "12"], ["Không", "ẩn"], ["Chưa biết", "<5"]]
    assert table_cells(page, "union") == [
        ["Công đoàn cơ sở Công ty CP Khách sạn Thông Xanh", "<5", "ẩn", "<5"],
        ["Công đoàn cơ sở Công ty TNHH Sữa Cao Nguyên", "ẩn", "ẩn", "<5"],
    ]
    for segment in ("ward", "workplace", "work"):
        assert table_cells(page, segment) == [["Chưa rõ", "12", "ẩn", "<5"]]
    chart = json.loads(re.search(r'id="stats-data">([^<]+)<', page).group(1))
    assert chart["charts"]["poll"]["series"][0]["values"] == [12, None, None]
    # What the open page reads again to stay up to date: the same cells, the same rule.
    live = await (await client.get(f"/officer/broadcasts/{poll.id}/poll.json")).json()
    assert (live["answered"], live["answers"]) == ("20", ["12", "ẩn", "<5"])
    assert live["values"] == [12, None, None]
    assert [[label, *cells] for label, cells in live["tables"]["union"]] == table_cells(
        page, "union"
    )
    report = await (await client.get(f"/officer/broadcasts/{poll.id}/report")).text()
    assert re.search(r'data-answer="1"><th scope="row">Không</th><td class="n">ẩn<', report)

    exported = await client.get(f"/officer/broadcasts/{poll.id}/poll.csv")
    assert exported.status == 200 and exported.content_type == "text/csv"
    rows = list(csv.reader(io.StringIO((await exported.read()).decode("utf-8-sig"))))
    assert leaks("\n".join(cell for row in rows for cell in row)) == []  # read in Vietnamese
    everyone = "Tất cả người trả lời"
    assert rows[:4] == [
        ["Tính theo", "Thuộc", "Phương án", "Số trả lời"],
        [everyone, "", "Có", "12"], [everyone, "", "Không", "ẩn"],
        [everyone, "", "Chưa biết", "<5"],
    ]  # fmt: skip
    # Thông Xanh's three answers, then Sữa Cao Nguyên's.
    by_union = [n for segment, _value, _answer, n in rows if segment == "Công đoàn"]
    assert by_union == ["<5", "ẩn", "<5", "ẩn", "ẩn", "<5"]
    assert [r[1:] for r in rows if r[0] == "Loại hình lao động"] == [
        ["Chưa rõ", "Có", "12"], ["Chưa rõ", "Không", "ẩn"], ["Chưa rõ", "Chưa biết", "<5"],
    ]  # fmt: skip
    async with sessions() as session:
        [entry] = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "poll.exported"))
        ).all()
    assert entry.detail == {"broadcast": poll.id}

    await client.post("/officer/logout", data={"csrf": await csrf_of(client)})
    await log_in(client, "binh")  # an officer of one union: the poll went to the federation
    for tail in ("", "/poll.csv", "/poll.json"):
        refused = await client.get(f"/officer/broadcasts/{poll.id}{tail}")
        assert refused.status == 404
    assert await count(sessions, AuditEntry, AuditEntry.action == "poll.exported") == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_polls_results_are_drawn_in_the_browser(browser, settings, sessions):
    """The results' chart is drawn (the hidden counts left out) under the page's CSP, and
    the table reads "<5" on a phone without the page scrolling sideways."""
    bot = await serve(create_app(settings))
    try:
        async with sessions() as session:
            await add_officers(session)
            await session.commit()
        poll = await answered_poll(sessions)
        page = await browser.new_page(viewport=SIZES["phone"])
        await page.clock.install()  # the page's 10-second refresh, moved on by hand
        await log_in_browser(page, bot.url, "admin")
        await page.goto(f"{bot.url}/officer/broadcasts/{poll.id}")
        drawn = "() => Chart.getChart(document.getElementById('chart-poll')).data.datasets[0].data"
        assert await page.evaluate(drawn) == [12, None, None]
        answers = page.locator("table[data-table=answers] td")
        assert await answers.all_inner_texts() == ["12", "ẩn", "<5"]
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / "poll-results-phone.png"), full_page=True)
        await assert_fits(page, "phone")
        # Three more "Chưa biết" while the page is open: 5 now, shown, and "Không" with it.
        async with sessions() as session:
            for person_id in (9001, 9002, 9003):
                tag = poll_service.respondent(TEST_VAULT, poll.id, person_id)
                await stored_polls.record(session, poll.id, tag, 2, stored_polls.Segment(), NOW)
            await session.commit()
        await page.clock.fast_forward(10_000)
        await page.wait_for_function(
            "() => document.querySelector('td[data-answer=\"2\"]').textContent === '5'"
        )
        assert await answers.all_inner_texts() == ["12", "6", "5"]
        assert await page.evaluate(drawn) == [12, 6, 5]
        assert "23 người lao động" in await page.inner_text("[data-poll=answered]")
    finally:
        await bot.stop()


# -- with an image ---------------------------------------------------------------------------

VI = Catalogs(CONTENT_DIR / "locales").get("vi").gettext
EXIF_MARKERS = (b"Exif", b"PhoneOfLan", b"Nguyen Thi Lan")


def shown(msgid: str) -> str:
    """A message as the page shows it: in Vietnamese once translated, escaped as Jinja does."""
    return str(escape(VI(msgid)))


def multipart(fields: list[tuple[str, str]], image: bytes | None = None, name: str = "x.jpg"):
    """The compose form as a browser posts it, with a file chosen or not."""
    data = aiohttp.FormData()
    for key, value in fields:
        data.add_field(key, value)
    data.add_field("image", image or b"", filename=name if image else "",
                   content_type="image/jpeg" if image else "application/octet-stream")  # fmt: skip
    return data


def carried(page: str) -> list[tuple[str, str]]:
    """The image fields a page carries to the next step."""
    return [
        (name, html.unescape(re.search(rf'name="{name}" value="([^"]*)"', page).group(1)))
        for name in ("image_kept", "image_tag")
    ]


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), "white").save(out, "PNG")
    return out.getvalue()


async def test_an_image_is_taken_without_its_metadata_and_shown_with_the_message(
    dashboard, sessions
):
    """Chosen once at "Send", carried to the confirmation, saved as a JPEG without EXIF (GPS,
    camera, comment); the broadcast's page and report show it, and the test carries it."""
    client = dashboard["client"]
    ids = await seed(sessions)
    await log_in(client, "admin")
    csrf = await csrf_of(client, NEW)
    cluster = ids["CL-CAMLY"]
    asked = await client.post(NEW, data=multipart(form(csrf, cluster, "send"), jpeg_with_gps()))
    page = await asked.text()
    assert asked.status == 200, page
    assert "200 × 300" in page  # turned upright: the EXIF orientation applied
    kept = carried(page)
    content = base64.b64decode(kept[0][1])
    assert content.startswith(b"\xff\xd8") and not any(m in content for m in EXIF_MARKERS)
    counted = re.search(r'name="counted" value="(\d+)"', page).group(1)
    confirm = [*form(csrf, cluster, "confirm", counted=counted), *kept]
    saved = await client.post(NEW, data=multipart(confirm), allow_redirects=False)
    assert saved.status == 303
    broadcast = await only_broadcast(sessions)
    async with sessions() as session:
        stored_image = await session.get(BroadcastImage, broadcast.id)
    assert stored_image.content == content and (stored_image.width, stored_image.height) == (
        200,
        300,
    )
    page = await (await client.get(saved.headers["Location"])).text()
    src = f'src="/officer/broadcasts/{broadcast.id}/image.jpg"'
    assert src in page
    served = await client.get(f"/officer/broadcasts/{broadcast.id}/image.jpg")
    assert served.content_type == "image/jpeg" and await served.read() == content
    report = await (await client.get(f"/officer/broadcasts/{broadcast.id}/report")).text()
    assert src in report

    async with sessions() as session:
        await session.execute(
            update(Officer).where(Officer.login == "admin").values(telegram_user_id="7001")
        )
        await session.commit()
    tested = await client.post(NEW, data=multipart(form(csrf, cluster, "test"), jpeg_with_gps()))
    assert tested.status == 200
    async with sessions() as session:
        [row] = (await session.scalars(select(OutboxItem))).all()
    delivery = outbox.to_delivery(TEST_VAULT, row)  # the sender sends it as a photo
    assert (delivery.chat_id, delivery.image.content) == ("7001", content)
    assert TEXT in delivery.text and delivery.text.startswith(
        VI("Test of a broadcast, only you received it:")
    )


async def test_an_officer_elsewhere_cannot_see_the_image(dashboard, sessions):
    client = dashboard["client"]
    ids = await seed(sessions)
    async with sessions() as session:
        admin = (await session.scalars(select(Officer).where(Officer.login == "admin"))).one()
        draft = broadcasts.Draft(
            Audience(ids["GR-THONGXANH"]), TEXT, image=broadcasts.picture(jpeg_with_gps())
        )
        made = await broadcasts.compose(session, admin, draft, NOW)
        await session.commit()
    await log_in(client, "binh")  # an officer of GR-SUACAONGUYEN
    answer = await client.get(f"/officer/broadcasts/{made.id}/image.jpg")
    assert answer.status == 404 and answer.content_type == "text/html"


async def test_images_that_cannot_be_taken_are_refused_and_nothing_is_saved(dashboard, sessions):
    client = dashboard["client"]
    ids = await seed(sessions)
    await log_in(client, "admin")
    csrf = await csrf_of(client, NEW)
    cluster = ids["CL-CAMLY"]
    gif = io.BytesIO()
    PILImage.new("RGB", (10, 10)).save(gif, "GIF")
    refused = [
        (b"%PDF-1.7 not a picture", "The image must be a JPEG or PNG picture."),
        (gif.getvalue(), "The image must be a JPEG or PNG picture."),
        (b"\xff\xd8\xff\xe0 broken", "The image could not be read as a JPEG or PNG picture."),
        (b"\xff\xd8\xff" + b"\0" * (5 * 1024 * 1024), "The image is too large: at most 5 MB."),
        (png(5000, 4000),
         "The image has too many pixels: at most 16 million (a photo from a phone)."),
    ]  # fmt: skip
    for data, message in refused:
        for action in ("count", "send", "confirm"):
            answer = await client.post(
                NEW, data=multipart(form(csrf, cluster, action, counted="7"), data)
            )
            page = await answer.text()
            assert answer.status == 400 and shown(message) in page, (message, action)
            assert 'name="image_kept"' not in page and TEXT in page  # the rest is kept
    asked = await (
        await client.post(NEW, data=multipart(form(csrf, cluster, "send"), jpeg_with_gps()))
    ).text()
    (_, kept), (_, tag) = carried(asked)
    other = base64.b64encode(png(20, 20)).decode()
    for forged in ([("image_kept", other), ("image_tag", tag)],
                   [("image_kept", kept), ("image_tag", "0" * 64)],
                   [("image_kept", "not base64!"), ("image_tag", tag)]):  # fmt: skip
        confirm = [*form(csrf, cluster, "confirm", counted="3"), *forged]
        answer = await client.post(NEW, data=multipart(confirm))
        assert answer.status == 400
        assert shown("The image was changed on the way. Choose it again.") in await answer.text()
    as_text = [*form(csrf, cluster, "confirm", counted="3"), ("image", "AAAA")]
    answer = await client.post(NEW, data=as_text)
    assert answer.status == 400
    assert shown("Choose the image with the form's button for it.") in await answer.text()
    assert await count(sessions, Broadcast) == 0 and await count(sessions, BroadcastImage) == 0
    assert await audited(sessions) == []


async def test_an_image_can_be_removed_before_sending(dashboard, sessions):
    client = dashboard["client"]
    ids = await seed(sessions)
    await log_in(client, "admin")
    csrf = await csrf_of(client, NEW)
    cluster = ids["CL-CAMLY"]
    asked = await (
        await client.post(NEW, data=multipart(form(csrf, cluster, "send"), jpeg_with_gps()))
    ).text()
    confirm = [*form(csrf, cluster, "confirm", counted="3"), *carried(asked), ("image_remove", "1")]
    saved = await client.post(NEW, data=multipart(confirm), allow_redirects=False)
    assert saved.status == 303
    assert await count(sessions, Broadcast) == 1 and await count(sessions, BroadcastImage) == 0
