"""Broadcasts delivered by the running bot through the fake Telegram API, on both databases:
each subscriber once, nobody else; a blocked bot marks the person unreachable; 429s and 5xx
are retried without a duplicate; a crash's claims are reported, not sent again; a whole-
federation broadcast waits for a second admin; a quick poll's answers come back as presses
and its results hide small cells."""

from __future__ import annotations

import asyncio
import csv
import html
import io
import re
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import aiohttp
from sqlalchemy import select

from bot.services import accounts, reach
from bot.services import broadcasts as service
from storage import broadcasts, cases, people, subscriptions, unions
from storage.directory import load as load_directory
from storage.models import AuditEntry, Broadcast, BroadcastDelivery, Officer, Person, PollAnswer
from tests.support import SAMPLE_DIRECTORY, TEST_VAULT, count, jpeg_with_gps

PASSWORD = "mat-khau-rat-dai"
ANSWERS = ("Có", "Không", "Chưa biết")


async def subscriber(
    session,
    user: int,
    *,
    topic: str = "policy",
    union: str | None = None,
    language: str = "vi",
    blocked: bool = False,
) -> Person:
    """A Telegram worker subscribed to `topic`, linked to `union` by a case under their name."""
    now = datetime.now(UTC)
    person = await people.create(session, "telegram", str(user), language, now)
    person.blocked = blocked
    await subscriptions.subscribe(session, person.id, [topic], now)
    if union is not None:
        found = await unions.by_code(session, union)
        await cases.open(
            session,
            kind="membership",
            union_id=found.id,
            person_id=person.id,
            text="Đăng ký",
            now=now,
        )
    return person  # fmt: skip


async def wait_done(sessions, broadcast_id: int, timeout: float = 20.0) -> Broadcast:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with sessions() as session:
            found = await session.get(Broadcast, broadcast_id)
            if found.status == "done":
                return found
        await asyncio.sleep(0.1)
    raise TimeoutError(f"broadcast {broadcast_id} is {found.status}")


async def outcomes(sessions, broadcast_id: int) -> dict[str, tuple[str, str | None]]:
    async with sessions() as session:
        rows = await session.execute(
            select(Person.channel_user_id, BroadcastDelivery.status, BroadcastDelivery.reason)
            .join(Person, Person.id == BroadcastDelivery.person_id)
            .where(BroadcastDelivery.broadcast_id == broadcast_id)
        )
        return {chat: (status, reason) for chat, status, reason in rows}


async def compose(
    sessions, officer_id: int, union: str, text: str, image: bytes | None = None, **audience
) -> int:
    async with sessions() as session:
        officer = await session.get(Officer, officer_id)
        found = await unions.by_code(session, union)
        picture = service.picture(image) if image is not None else None
        draft = service.Draft(service.Audience(found.id, **audience), text, image=picture)
        broadcast = await service.compose(session, officer, draft, datetime.now(UTC))
        await session.commit()
        return broadcast.id


async def add_admin(
    sessions, name: str, union: str = "FED-ROOT", telegram: str | None = None
) -> int:
    async with sessions() as session:
        officer = await accounts.add_officer(
            session, union_code=union, name=name, role="admin", now=datetime.now(UTC),
            telegram_user_id=telegram,
        )  # fmt: skip
        await session.commit()
        return officer.id


async def test_a_broadcast_reaches_each_subscriber_in_its_audience_once(
    start_bot, fake_telegram, sessions
):
    await start_bot(quiet_hours=None)
    async with sessions() as session:
        await subscriber(session, 9001, union="GR-THONGXANH")  # below the ward's union
        await subscriber(session, 9002, union="CL-XUANHUONG", language="en")
        await subscriber(session, 9003, union="CL-CAMLY")  # another ward
        await subscriber(session, 9004)  # never said where they work
        await subscriber(session, 9005, topic="activities", union="CL-XUANHUONG")
        await subscriber(session, 9006, union="GR-BVDALAT", blocked=True)
        await session.commit()
    admin = await add_admin(sessions, "Chị Hạnh", telegram="9900")
    ward = await compose(sessions, admin, "CL-XUANHUONG", "Lương tối thiểu vùng tăng từ 1/1.")
    await wait_done(sessions, ward)
    await fake_telegram.wait_for("sendMessage", 3)
    got = Counter(chat for chat, _text in fake_telegram.messages)
    assert got == {"9001": 1, "9002": 1, "9900": 1}
    [(_, told)] = [m for m in fake_telegram.messages if m[0] == "9900"]
    assert told == (
        f"Thông báo #{ward} đã gửi xong: đã gửi 2/3, 1 người không liên lạc được, 0 tin lỗi. "
        "Báo cáo có trên trang quản lý."
    )
    [(_, text)] = [m for m in fake_telegram.messages if m[0] == "9001"]
    assert text.startswith("Lương tối thiểu vùng tăng từ 1/1.")
    assert "/dung" in text
    assert await outcomes(sessions, ward) == {
        "9001": ("sent", None), "9002": ("sent", None), "9006": ("unreachable", "left"),
    }  # fmt: skip
    async with sessions() as session:
        done = await session.get(Broadcast, ward)
        report = await service.progress(session, done, datetime.now(UTC))
    assert (done.total, report.sent, report.unreachable, report.pending) == (3, 2, 1, 0)


async def test_the_whole_federation_waits_for_a_second_admin(start_bot, fake_telegram, sessions):
    await start_bot(quiet_hours=None)
    async with sessions() as session:
        for user in (9101, 9102, 9103):
            await subscriber(session, user, union="CL-LAMVIEN" if user == 9101 else None)
        await session.commit()
    first, second = await add_admin(sessions, "Anh Tâm"), await add_admin(sessions, "Chị Mai")
    whole = await compose(sessions, first, "FED-ROOT", "Chương trình Tết Sum vầy 2027.")
    await asyncio.sleep(1.1)  # a tick: nothing may go before the approval
    assert fake_telegram.messages == []
    async with sessions() as session:
        author = await session.get(Officer, first)
        try:
            await service.approve(session, author, whole, datetime.now(UTC))
            raise AssertionError("the author approved their own broadcast")
        except service.BroadcastError:
            pass
        await service.approve(session, await session.get(Officer, second), whole,
                              datetime.now(UTC))  # fmt: skip
        await session.commit()
    await wait_done(sessions, whole)
    assert sorted(chat for chat, _ in fake_telegram.messages) == ["9101", "9102", "9103"]
    for action in ("broadcast.created", "broadcast.approved"):
        assert await count(sessions, AuditEntry, AuditEntry.action == action) == 1


async def test_blocked_bot_429_and_5xx_each_end_well_without_a_duplicate(
    start_bot, fake_telegram, sessions
):
    await start_bot(quiet_hours=None)
    users = list(range(9201, 9209))
    async with sessions() as session:
        for user in users:
            await subscriber(session, user)
        await session.commit()
    fake_telegram.blocked.add("9203")
    fake_telegram.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", 1)
    fake_telegram.fail_next("sendMessage", 502, "Bad Gateway")
    fake_telegram.fail_next("sendMessage", 500, "Internal Server Error")
    admin = await add_admin(sessions, "Chị Hạnh")
    sent = await compose(sessions, admin, "FED-ROOT", "Tin mới.")
    async with sessions() as session:
        await service.approve(session, await session.get(Officer, await add_admin(
            sessions, "Anh Bình")), sent, datetime.now(UTC))  # fmt: skip
        await session.commit()
    await wait_done(sessions, sent, timeout=30)
    got = Counter(chat for chat, _ in fake_telegram.messages)
    assert got == {str(u): 1 for u in users if u != 9203}
    result = await outcomes(sessions, sent)
    assert result["9203"] == ("unreachable", "blocked")
    async with sessions() as session:
        blocked = await people.find(session, "telegram", "9203")
    assert blocked.blocked


async def test_claims_of_a_crashed_process_are_reported_not_sent_again(
    start_bot, fake_telegram, sessions
):
    """A process died after claiming two rows: they may have gone, so they are recorded as
    uncertain and never sent again; the rest go."""
    async with sessions() as session:
        await unions.import_directory(session, load_directory(SAMPLE_DIRECTORY))
        for user in range(9301, 9306):
            await subscriber(session, user)
        admin = await accounts.add_officer(
            session, union_code="FED-ROOT", name="A", role="admin", now=datetime.now(UTC)
        )
        root = await unions.root(session)
        draft = service.Draft(service.Audience(root.id, wards=frozenset()), "Tin.")
        broadcast = await service.compose(session, admin, draft, datetime.now(UTC))
        broadcast.status = "scheduled"  # as if approved
        now = datetime.now(UTC)
        filters = await service.filters(session, service.Audience.of(broadcast))
        assert await broadcasts.start(session, broadcast.id, filters, now) == 5
        # Claimed five minutes ago with a two-minute lease: on PostgreSQL, where processes
        # share the work, a claim is abandoned once its lease is over.
        dead = await broadcasts.claim(
            session, "telegram", 2, owner="dead:1", now=now - timedelta(minutes=5),
            lease=timedelta(minutes=2),
        )  # fmt: skip
        await session.commit()
    await start_bot(quiet_hours=None)
    await wait_done(sessions, broadcast.id)
    result = await outcomes(sessions, broadcast.id)
    assert {result[c.chat_id] for c in dead} == {("uncertain", "interrupted")}
    assert sorted(chat for chat, _ in fake_telegram.messages) == sorted(
        str(u) for u in range(9301, 9306) if str(u) not in {c.chat_id for c in dead}
    )


async def test_blocking_the_bot_marks_the_person_unreachable(start_bot, fake_telegram, sessions):
    await start_bot(quiet_hours=None)
    await fake_telegram.deliver(fake_telegram.text_update(9401, "/start"))
    await fake_telegram.wait_for("sendMessage", 1)
    await fake_telegram.deliver(fake_telegram.member_update(9401, "kicked"))
    for _ in range(50):
        async with sessions() as session:
            person = await people.find(session, "telegram", "9401")
        if person.blocked:
            break
        await asyncio.sleep(0.1)
    assert person.blocked
    # Writing again makes them reachable.
    await fake_telegram.deliver(fake_telegram.text_update(9401, "/start"))
    await fake_telegram.wait_for("sendMessage", 2)
    async with sessions() as session:
        assert not (await people.find(session, "telegram", "9401")).blocked


async def test_a_reply_refused_with_403_marks_the_person_unreachable(
    start_bot, fake_telegram, sessions
):
    await start_bot(quiet_hours=None)
    fake_telegram.blocked.add("9501")
    await fake_telegram.deliver(fake_telegram.text_update(9501, "/start"))
    for _ in range(50):
        async with sessions() as session:
            person = await people.find(session, "telegram", "9501")
        if person is not None and person.blocked:
            break
        await asyncio.sleep(0.1)
    assert person.blocked


async def test_on_zalo_a_broadcast_goes_within_the_free_window_and_the_rest_are_reported(
    start_bot, fake_zalo, sessions
):
    """Zalo: someone who wrote yesterday gets it; someone who last wrote three days ago (a
    reply would be billed) and someone who unfollowed are recorded with the reason."""
    await start_bot(quiet_hours=None, zalo=True)
    now = datetime.now(UTC)
    async with sessions() as session:
        for user, last in (("z-1", timedelta(days=1)), ("z-2", timedelta(days=3)),
                           ("z-3", timedelta(hours=1))):  # fmt: skip
            person = await people.create(session, "zalo", user, "vi", now)
            await reach.heard(session, TEST_VAULT, person, now - last)
            await subscriptions.subscribe(session, person.id, ["policy"], now)
        await session.commit()
    fake_zalo.unfollowed("z-3")
    first, second = await add_admin(sessions, "Chị Hạnh"), await add_admin(sessions, "Anh Bình")
    sent = await compose(sessions, first, "FED-ROOT", "Tin mới về bảo hiểm xã hội.")
    async with sessions() as session:
        approver = await session.get(Officer, second)
        await service.approve(session, approver, sent, datetime.now(UTC))
        await session.commit()
    await wait_done(sessions, sent)
    assert [fake_zalo.text_of(m) for m in fake_zalo.sent("z-1")] == [
        "Tin mới về bảo hiểm xã hội.\n\nĐể không nhận các tin này nữa, bạn gửi /dung."
    ]
    assert fake_zalo.sent("z-2") == []
    result = await outcomes(sessions, sent)
    async with sessions() as session:
        left = await people.find(session, "zalo", "z-3")
    assert result == {
        "z-1": ("sent", None),
        "z-2": ("unreachable", "window_closed"),
        "z-3": ("unreachable", "not_following"),
    }
    assert left.blocked  # the next broadcast counts them as gone before trying


async def officer_http(url: str, login: str) -> tuple[aiohttp.ClientSession, str]:
    """A dashboard session logged in as `login`, and its CSRF token."""
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    page = await (await http.get(f"{url}/officer/login")).text()
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    data = {"csrf": token, "login": login, "password": PASSWORD}
    async with http.post(f"{url}/officer/login", data=data) as response:
        assert response.status == 200
    page = await (await http.get(f"{url}/officer/broadcasts/new")).text()
    return http, re.search(r'name="csrf" value="([^"]+)"', page).group(1)


async def test_a_quick_poll_to_30_workers_20_answer_and_small_cells_stay_hidden(
    start_bot, fake_telegram, sessions
):
    """Composed and approved on the dashboard, the poll goes to 30 workers (15 of each of two
    unions) with one button per answer; 20 press one, three change their mind and one
    presses the same again. The results and their CSV show 12 "Có"; the 2 "Chưa biết" are
    "<5" and the 6 "Không" hidden with them; by union, the 3 beside a 9 are "<5" and the 9
    hidden."""
    bot = await start_bot(quiet_hours=None)
    users = list(range(9601, 9631))
    async with sessions() as session:
        for user in users:
            await subscriber(
                session, user, union="GR-SUACAONGUYEN" if user <= 9615 else "GR-THONGXANH"
            )
        for login in ("hanh", "binh"):
            await accounts.add_officer(
                session, union_code="FED-ROOT", name=login.title(), role="admin",
                now=datetime.now(UTC), login=login, password=PASSWORD,
            )  # fmt: skip
        root = (await unions.root(session)).id
        await session.commit()
    author, csrf = await officer_http(bot.url, "hanh")
    approver, approver_csrf = await officer_http(bot.url, "binh")
    try:
        new = f"{bot.url}/officer/broadcasts/new"
        form = {"csrf": csrf, "text": "Bạn có muốn làm thêm thứ Bảy không?", "topic": "policy",
                "union": str(root), "channel": "telegram"}  # fmt: skip
        answers = [("poll_option", a) for a in (*ANSWERS, "", "", "")]
        asked = await (
            await author.post(new, data=[*form.items(), ("action", "send"), *answers])
        ).text()
        counted = re.search(r'name="counted" value="(\d+)"', asked).group(1)
        assert counted == "30"
        confirm = [*form.items(), ("action", "confirm"), ("counted", counted), *answers]
        saved = await author.post(new, data=confirm, allow_redirects=False)
        poll_id = int(
            re.search(r"/broadcasts/(\d+)\?done=awaiting", saved.headers["Location"]).group(1)
        )
        approve = f"{bot.url}/officer/broadcasts/{poll_id}/approve"
        assert (await approver.post(approve, data={"csrf": approver_csrf})).status == 200
        await wait_done(sessions, poll_id)
        await fake_telegram.wait_for("sendMessage", 30)
        for user in users:
            [sent] = fake_telegram.sent(user)
            keyboard = sent["reply_markup"]["inline_keyboard"]
            assert [(b["text"], b["callback_data"]) for [b] in keyboard] == [
                (answer, f"poll:{poll_id}:{i}") for i, answer in enumerate(ANSWERS)
            ]

        final = {u: ("Có" if u <= 9609 else "Không") for u in range(9601, 9616)}
        final |= {9616: "Có", 9617: "Có", 9618: "Có", 9619: "Chưa biết", 9620: "Chưa biết"}
        first = {**final, 9601: "Không", 9610: "Có", 9620: "Có"}  # three change their mind
        for user, answer in first.items():
            await fake_telegram.deliver(fake_telegram.press_update(user, answer))
        await fake_telegram.wait_for("sendMessage", 50)
        for user in (9601, 9610, 9620, 9605):  # 9605 presses the same answer again
            data = f"poll:{poll_id}:{ANSWERS.index(final[user])}"
            await fake_telegram.deliver(fake_telegram.button_update(user, data))
        await fake_telegram.wait_for("sendMessage", 54)
        [_poll, thanked, changed] = [m["text"] for m in fake_telegram.sent(9601)]
        assert thanked.startswith("Cảm ơn bạn! Câu trả lời của bạn đã được ghi nhận: “Không”.")
        assert changed.startswith("Đã đổi câu trả lời của bạn thành: “Có”.")
        assert await count(sessions, PollAnswer) == 20

        page = await (await author.get(f"{bot.url}/officer/broadcasts/{poll_id}")).text()
        assert "Đến nay đã có 20 người lao động trả lời." in page
        shown = re.findall(r'<td class="n"[^>]*>([^<]*)</td>', page.split('id="poll-results"')[1])
        assert shown[:3] == ["12", "ẩn", "&lt;5"]  # by answer
        assert shown[3:9] == ["&lt;5", "ẩn", "&lt;5", "ẩn", "ẩn", "&lt;5"]  # by union
        exported = await author.get(f"{bot.url}/officer/broadcasts/{poll_id}/poll.csv")
        rows = list(csv.reader(io.StringIO((await exported.read()).decode("utf-8-sig"))))
        by_csv = [n for _segment, _value, _answer, n in rows[1:10]]
        assert by_csv == [html.unescape(n) for n in shown[:9]]  # the page's words
    finally:
        await author.close()
        await approver.close()


# -- with an image ---------------------------------------------------------------------------

EXIF_MARKERS = (b"Exif", b"PhoneOfLan", b"Nguyen Thi Lan")


async def test_an_image_goes_as_a_photo_uploaded_once_with_the_text_as_its_caption(
    start_bot, fake_telegram, sessions
):
    await start_bot(quiet_hours=None)
    async with sessions() as session:
        for user in (9701, 9702, 9703):
            await subscriber(session, user, union="CL-XUANHUONG")
        await session.commit()
    admin = await add_admin(sessions, "Chị Hạnh")
    sent = await compose(sessions, admin, "CL-XUANHUONG", "Ngày hội công nhân.", jpeg_with_gps())
    await wait_done(sessions, sent)
    photos = {chat: (content, caption) for chat, content, caption in fake_telegram.photos}
    assert set(photos) == {"9701", "9702", "9703"}
    assert len({content for content, _ in photos.values()}) == 1
    content, caption = photos["9701"]
    assert caption == "Ngày hội công nhân.\n\nĐể không nhận các tin này nữa, bạn gửi /dung."
    assert content.startswith(b"\xff\xd8") and not any(m in content for m in EXIF_MARKERS)
    calls = fake_telegram.calls_to("sendPhoto")
    uploads = [c for c in calls if isinstance(c["photo"], bytes)]
    assert len(calls) == 3 and len(uploads) == 1  # then sent again by its file_id
    assert fake_telegram.messages == []  # the text went as the caption
    assert set((await outcomes(sessions, sent)).values()) == {("sent", None)}


async def test_a_text_too_long_for_a_caption_goes_after_the_photo(
    start_bot, fake_telegram, sessions
):
    await start_bot(quiet_hours=None)
    async with sessions() as session:
        await subscriber(session, 9711, union="CL-XUANHUONG")
        await session.commit()
    admin = await add_admin(sessions, "Chị Hạnh")
    text = "Thông báo về lương tối thiểu vùng năm 2027. " * 30  # over 1,024 characters
    sent = await compose(sessions, admin, "CL-XUANHUONG", text.strip(), jpeg_with_gps())
    await wait_done(sessions, sent)
    [(chat, _content, caption)] = fake_telegram.photos
    assert (chat, caption) == ("9711", "")
    [(chat, after)] = fake_telegram.messages
    assert chat == "9711" and after.startswith("Thông báo về lương") and "/dung" in after
    assert await outcomes(sessions, sent) == {"9711": ("sent", None)}


async def test_when_the_photo_went_and_the_text_did_not_it_is_not_sent_again(
    start_bot, fake_telegram, sessions
):
    """One delivery, two messages: the photo arrived, the text after it failed; sending again
    would show the photo twice, so the row is failed with `partly_sent`."""
    await start_bot(quiet_hours=None)
    async with sessions() as session:
        await subscriber(session, 9721, union="CL-XUANHUONG")
        await session.commit()
    fake_telegram.fail_next("sendMessage", 500, "Internal Server Error")
    admin = await add_admin(sessions, "Chị Hạnh")
    sent = await compose(sessions, admin, "CL-XUANHUONG", "Tin dài. " * 200, jpeg_with_gps())
    await wait_done(sessions, sent)
    assert len(fake_telegram.photos) == 1 and fake_telegram.messages == []
    assert await outcomes(sessions, sent) == {"9721": ("failed", "partly_sent")}


async def test_on_zalo_an_image_is_uploaded_once_and_sent_before_the_text(
    start_bot, fake_zalo, sessions
):
    await start_bot(quiet_hours=None, zalo=True)
    now = datetime.now(UTC)
    async with sessions() as session:
        for user in ("z-11", "z-12"):
            person = await people.create(session, "zalo", user, "vi", now)
            await reach.heard(session, TEST_VAULT, person, now - timedelta(hours=2))
            await subscriptions.subscribe(session, person.id, ["policy"], now)
        await session.commit()
    first, second = await add_admin(sessions, "Chị Hạnh"), await add_admin(sessions, "Anh Bình")
    sent = await compose(sessions, first, "FED-ROOT", "Ngày hội công nhân.", jpeg_with_gps())
    async with sessions() as session:
        await service.approve(session, await session.get(Officer, second), sent,
                              datetime.now(UTC))  # fmt: skip
        await session.commit()
    await wait_done(sessions, sent)
    assert len(fake_zalo.calls_to("upload_image")) == 1  # once, for both
    [attachment] = list(fake_zalo.uploads)
    assert not any(m in fake_zalo.uploads[attachment] for m in EXIF_MARKERS)
    for user in ("z-11", "z-12"):
        image, text = fake_zalo.sent(user)
        elements = image["attachment"]["payload"]["elements"]
        assert elements == [{"media_type": "image", "attachment_id": attachment}]
        assert fake_zalo.text_of(text).startswith("Ngày hội công nhân.")
    assert set((await outcomes(sessions, sent)).values()) == {("sent", None)}


async def test_a_test_with_an_image_reaches_the_officer_as_a_photo(
    start_bot, fake_telegram, sessions
):
    """From the dashboard over HTTP (a multipart form), through the outbox, to Telegram."""
    bot = await start_bot(quiet_hours=None)
    async with sessions() as session:
        await accounts.add_officer(
            session, union_code="FED-ROOT", name="Hạnh", role="admin", now=datetime.now(UTC),
            login="hanh", password=PASSWORD, telegram_user_id="9900",
        )  # fmt: skip
        root = (await unions.root(session)).id
        await session.commit()
    http, csrf = await officer_http(bot.url, "hanh")
    try:
        data = aiohttp.FormData()
        fields = {"csrf": csrf, "text": "Ngày hội công nhân.", "topic": "policy",
                  "union": str(root), "channel": "telegram", "action": "test"}  # fmt: skip
        for key, value in fields.items():
            data.add_field(key, value)
        data.add_field("image", jpeg_with_gps(), filename="anh.jpg", content_type="image/jpeg")
        answer = await http.post(f"{bot.url}/officer/broadcasts/new", data=data)
        assert answer.status == 200, await answer.text()
        await fake_telegram.wait_for("sendPhoto")
    finally:
        await http.close()
    [(chat, content, caption)] = fake_telegram.photos
    assert chat == "9900" and caption.startswith("Tin thử của thông báo")
    assert "Ngày hội công nhân." in caption and not any(m in content for m in EXIF_MARKERS)
    assert fake_telegram.messages == []
    assert await count(sessions, Broadcast) == 0
