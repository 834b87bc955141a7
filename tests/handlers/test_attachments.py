"""The evidence step: files are checked as they arrive, counted, and go to the case; a form
that is cancelled or erased takes its files with it."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.channels.base import FetchError
from bot.channels.terminal import TerminalChannel
from bot.fetcher import EvidenceFetcher
from handlers.types import Attachment
from storage.models import Case, Evidence
from tests.handlers.conftest import buttons
from tests.scenarios import STORY
from tests.support import count

PHOTO = Attachment("photo", "tg-photo-1", 120_000, "image/jpeg")
PDF = Attachment("document", "tg-doc-1", 300_000, "application/pdf")
VOICE = Attachment("voice", "tg-voice-1", 20_000, "audio/ogg")


async def to_evidence(worker):
    await worker.say("/start")
    await worker.press("Gửi phản ánh")
    await worker.press("Nợ lương, chậm lương")
    await worker.say("nha may sua cao nguyen")
    await worker.press("Đúng rồi")
    await worker.say(STORY)
    await worker.press("Từ 1 đến 6 tháng")
    [proof] = await worker.press("Từ 11 đến 50 người")
    assert buttons(proof) == [
        "f:grievance:evidence:done", "f:grievance:evidence:-back", "f:grievance:evidence:-cancel",
    ]  # fmt: skip
    return proof


async def test_files_are_counted_then_attached_to_the_case(talk, sessions):
    worker = talk()
    await to_evidence(worker)
    [first] = await worker.attach(PHOTO)
    assert first.text == "Đã nhận: 1 tệp. Bạn gửi thêm, hoặc bấm nút để làm tiếp."
    assert buttons(first)[0] == "f:grievance:evidence:done"
    await worker.attach(PDF)
    [third] = await worker.attach(VOICE)
    assert third.text.startswith("Đã nhận: 3 tệp.")
    # Going on and coming back keeps the files.
    [anonymity] = await worker.press("Xong, tiếp tục")
    assert anonymity.text.startswith("Bạn có muốn ẩn danh không?")
    [again] = await worker.press("Quay lại")
    assert again.text.endswith("Đã nhận: 3 tệp.")
    await worker.say("xong")  # typed instead of tapped
    [review] = await worker.press("Tôi muốn ẩn danh")
    assert "• Tệp kèm theo: 3 tệp\n" in review.text
    [done, *_alerts] = await worker.press("Gửi")
    assert "Đã đính kèm 3 tệp; thông tin ẩn như vị trí chụp được xoá." in done.text
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
        rows = (await session.scalars(select(Evidence).order_by(Evidence.id))).all()
    assert [(r.kind, r.case_id, r.status) for r in rows] == [
        ("photo", case.id, "pending"), ("document", case.id, "pending"),
        ("voice", case.id, "pending"),
    ]  # fmt: skip
    assert [r.reference for r in rows] == ["tg-photo-1", "tg-doc-1", "tg-voice-1"]


async def test_what_cannot_be_taken_is_refused_and_recorded_nowhere(talk, sessions):
    worker = talk()
    await to_evidence(worker)
    for attachment in (
        Attachment("sticker"),
        Attachment("video", "tg-video", 1000, "video/mp4"),
        Attachment("document", "tg-doc", 1000, "application/msword"),
    ):
        [refusal] = await worker.attach(attachment)
        # "Mình chỉ nhận…": what the bot can take, not a claim that it received it.
        assert refusal.text.startswith("Mình chỉ nhận ảnh, tin nhắn thoại và tệp PDF.")
    [too_big] = await worker.attach(Attachment("document", "tg-big", 30_000_000, "application/pdf"))
    assert too_big.text.startswith("Tệp này lớn quá (tối đa 10 MB).")
    [typed] = await worker.say("anh o trong may")
    assert typed.text.startswith("Bạn gửi ảnh, tin nhắn thoại hoặc tệp PDF vào đây")
    assert await count(sessions, Evidence) == 0


async def test_at_most_five_files(talk, sessions):
    worker = talk()
    await to_evidence(worker)
    for _ in range(5):
        await worker.attach(PHOTO)
    [refusal] = await worker.attach(PHOTO)
    assert refusal.text.startswith("Mình đã nhận 5 tệp, là số tối đa.")
    assert await count(sessions, Evidence) == 5


async def test_a_photo_where_text_is_expected_changes_nothing(talk, sessions):
    worker = talk()
    await worker.say("/start")
    await worker.press("Gửi phản ánh")
    await worker.press("Nợ lương, chậm lương")
    [answer] = await worker.attach(PHOTO)
    assert answer.text.startswith("Bạn trả lời bằng chữ hoặc bấm một nút giúp mình nhé.")
    assert await count(sessions, Evidence) == 0


async def test_cancelling_deletes_the_files_at_once(talk, sessions):
    worker = talk()
    await to_evidence(worker)
    await worker.attach(PHOTO)
    await worker.attach(PDF)
    [cancelled] = await worker.say("huỷ")
    assert cancelled.text.startswith("Đã huỷ, chưa có gì được gửi đi.")
    assert await count(sessions, Evidence) == 0


async def test_erasing_my_data_deletes_the_files_of_a_form_not_sent(talk, sessions):
    worker = talk()
    await to_evidence(worker)
    await worker.attach(PHOTO)
    await worker.say("/xoadulieu")
    [erased] = await worker.press("Xoá dữ liệu của tôi")
    assert "• 1 tệp bạn đã gửi kèm" in erased.text
    assert await count(sessions, Evidence) == 0


async def test_support_takes_files_too(talk, sessions):
    worker = talk()
    await worker.say("/start")
    await worker.press("Hỗ trợ khó khăn")
    await worker.press("Ốm đau, bệnh tật")
    await worker.press("Rất gấp (trong tuần này)")
    await worker.say("Em bị ốm nằm viện 2 tuần, không có tiền đóng viện phí")
    await worker.attach(Attachment("document", "tg-paper", 50_000, "image/jpeg"))
    await worker.press("Xong, tiếp tục")
    await worker.press("Có, tôi là đoàn viên")
    await worker.say("hoa vien")
    await worker.press("Đúng rồi")
    await worker.press("Tôi không đồng ý")
    [done, *_alerts] = await worker.press("Gửi")
    assert "Đã đính kèm 1 tệp" in done.text
    async with sessions() as session:
        row = (await session.scalars(select(Evidence))).one()
        case = (await session.scalars(select(Case))).one()
    assert (row.case_id, row.kind, row.mime) == (case.id, "document", "image/jpeg")


async def test_files_of_forms_never_sent_are_swept_after_eight_days(
    talk, sessions, dispatcher, database, clock
):
    worker = talk()
    await to_evidence(worker)
    await worker.attach(PHOTO)  # then the worker walks away
    other = talk("901")
    await to_evidence(other)
    await other.attach(PDF)
    await other.press("Xong, tiếp tục")
    await other.press("Tôi muốn ẩn danh")
    await other.press("Gửi")
    fetcher = EvidenceFetcher(database, dispatcher.services, {})
    assert await fetcher.sweep() == 0
    clock.now += timedelta(days=8, minutes=1)
    assert await fetcher.sweep() == 1
    async with sessions() as session:
        [kept] = (await session.scalars(select(Evidence))).all()
    assert kept.case_id is not None and kept.kind == "document"


async def test_the_terminal_sends_a_local_file(tmp_path):
    picture = tmp_path / "phieu luong.jpg"
    picture.write_bytes(b"\xff\xd8 a picture")
    terminal = TerminalChannel("an", out=io.StringIO())
    update = terminal.update_for(f"/tep {picture}")
    [attachment] = terminal.to_incoming(update.payload).attachments
    assert (attachment.kind, attachment.mime, attachment.size) == ("photo", "image/jpeg", 12)
    assert await terminal.fetch(attachment.reference, 100) == b"\xff\xd8 a picture"
    with pytest.raises(FetchError):
        await terminal.fetch(attachment.reference, 5)
    with pytest.raises(FetchError):
        await terminal.fetch(str(tmp_path / "missing.pdf"), 100)
