"""A worker's path through a form, tried as a new user would: a name that looks like a cancel
word, the menu opened mid-form, another menu item, the review before sending, a change made
from the review, and a count typed where buttons are shown."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.services import drafts
from handlers.types import Attachment
from storage.models import Case, Conversation, Evidence, UnansweredQuestion
from tests.handlers.conftest import NOW, buttons, labels
from tests.support import TEST_VAULT, count

ASK_NAME = "Họ tên đầy đủ của bạn là gì?"
ASK_PHONE = "Công đoàn gọi cho bạn qua số điện thoại nào?"
SURE = "Bạn muốn huỷ phần đang điền? Chưa có gì được gửi đi."
CANCELLED = "Đã huỷ, chưa có gì được gửi đi."
STORY = "Công ty nợ lương hai tháng rồi, cả xưởng chưa ai được trả."
NOT_TAKEN = (
    "Mình chưa ghi tin này vào phần bạn đang điền. Bạn bấm “Tiếp tục” rồi gửi lại, hoặc bấm "
    "“Bỏ phần đang điền”."
)


async def to_name(worker):
    await worker.say("/start")
    await worker.press("Gia nhập công đoàn")
    [name] = await worker.press("Tôi đồng ý")
    assert name.text == ASK_NAME
    return name


async def to_story(worker):
    await worker.say("/start")
    await worker.press("Gửi phản ánh")
    await worker.press("Nợ lương, chậm lương")
    await worker.say("sua cao nguyen")
    [story] = await worker.press("Đúng rồi")
    assert story.text.startswith("Chuyện gì đã xảy ra?")


async def state_of(sessions) -> dict:
    """The worker's state as handlers read it (its personal parts are sealed at rest)."""
    async with sessions() as session:
        return drafts.open_(TEST_VAULT, (await session.scalars(select(Conversation.state))).one())


async def test_a_half_filled_form_keeps_name_phone_and_story_sealed(talk, sessions):
    """A database reader sees which step a worker is at, not what they wrote."""
    worker = talk()
    await worker.say("/start")
    await worker.press("Gia nhập công đoàn")
    await worker.press("Tôi đồng ý")
    await worker.say("Nguyễn Văn An")
    await worker.say("0912345678")
    await worker.say("/start")  # the form set aside keeps its answers too
    async with sessions() as session:
        stored = (await session.scalars(select(Conversation.state))).one()
    assert "Nguyễn" not in repr(stored) and "0912" not in repr(stored)
    assert set(stored) == {"paused", "sealed"} and "answers" not in stored["paused"]
    opened = drafts.open_(TEST_VAULT, stored)
    assert opened["paused"]["answers"]["name"] == "Nguyễn Văn An"


async def test_names_that_look_like_cancel_words_are_names(talk):
    # Dũng, Đúng, Dùng, Huy, Thôi, Thới fold to "dung", "huy", "thoi": typed alone at the
    # name question they are the worker's name, never "cancel".
    for number, name in enumerate(("Dũng", "Đúng", "Dùng", "Dung", "Huy", "Thôi", "Thới", "thoi")):
        worker = talk(f"name-{number}")
        await to_name(worker)
        [phone] = await worker.say(name)
        assert phone.text == ASK_PHONE, name
        await worker.say("0912345678")
        await worker.say("cty sua cao nguyen")
        await worker.press("Đúng rồi")
        await worker.press("Có, tôi có hợp đồng lao động")
        [review] = await worker.press("Bỏ qua")
        assert f"• Họ tên: {name}\n" in review.text


async def test_a_cancel_word_where_text_is_expected_is_asked_about(talk, sessions):
    worker = talk()
    await to_name(worker)
    for word in ("huỷ", "Hủy", "dừng"):  # unmistakable, but a name field asks first
        [sure] = await worker.say(word)
        assert sure.text == SURE
        assert labels(sure) == ["Có, huỷ", "Không, điền tiếp"]
        [again] = await worker.press("Không, điền tiếp")
        assert again.text == ASK_NAME
    await worker.say("Lan")
    # "dung" is no phone number: the bot asks whether the worker wants to stop.
    [sure] = await worker.say("dung")
    assert sure.text == SURE
    [again] = await worker.say("không")
    assert again.text == ASK_PHONE
    # Something else typed after the question is the answer to the step as usual.
    await worker.say("huỷ")
    [workplace] = await worker.say("0912 345 678")
    assert workplace.text.startswith("Bạn làm ở đâu?")
    [sure] = await worker.say("huỷ")
    assert sure.text == SURE
    [cancelled] = await worker.say("có")
    assert cancelled.text.startswith(CANCELLED)
    assert await count(sessions, Case) == 0
    assert await state_of(sessions) == {}


async def test_a_cancel_word_where_only_buttons_fit(talk, sessions):
    worker = talk()
    await to_name(worker)
    await worker.say("Lan")
    await worker.say("0912345678")
    await worker.say("quán phở cô Ba")
    [contract] = await worker.press("Bỏ qua")
    assert contract.text == "Bạn có hợp đồng lao động không?"
    # Typed without diacritics it may be a name: asked. With them it can only mean stop.
    [sure] = await worker.say("thoi")
    assert sure.text == SURE
    [again] = await worker.press("Không, điền tiếp")
    assert again.text == "Bạn có hợp đồng lao động không?"
    [cancelled] = await worker.say("Huỷ")
    assert cancelled.text.startswith(CANCELLED)
    assert await state_of(sessions) == {}


async def test_start_mid_form_sets_the_form_aside_and_offers_it_back(talk, sessions):
    worker = talk()
    await to_name(worker)
    await worker.say("Nguyễn Văn An")
    [menu] = await worker.say("/start")
    assert menu.text.startswith("Xin chào! Mình là trợ lý tự động của Công đoàn")
    assert menu.text.endswith(
        "Phần “Gia nhập công đoàn” bạn đang điền dở vẫn được giữ: bấm “Tiếp tục” để điền tiếp."
    )
    assert labels(menu)[:2] == ["Tiếp tục “Gia nhập công đoàn”", "Bỏ phần đang điền"]
    # What is typed now is not taken as the form's answer: the phone is not recorded.
    [not_an_answer] = await worker.say("0912345678")
    assert not_an_answer.text == NOT_TAKEN
    assert labels(not_an_answer)[0] == "Tiếp tục “Gia nhập công đoàn”"
    state = await state_of(sessions)
    assert "phone" not in state["paused"]["answers"] and "flow" not in state
    [resumed] = await worker.press("Tiếp tục “Gia nhập công đoàn”")
    assert resumed.text == f"Mình tiếp tục phần “Gia nhập công đoàn” nhé.\n\n{ASK_PHONE}"
    [workplace] = await worker.say("0912345678")
    assert workplace.text.startswith("Bạn làm ở đâu?")
    # /menu and the menu button do the same; "Bỏ phần đang điền" drops it.
    [menu] = await worker.say("/menu")
    assert labels(menu)[0] == "Tiếp tục “Gia nhập công đoàn”"
    [home] = await worker.press_payload("menu:home")  # "Về menu chính", shown elsewhere
    assert labels(home)[0] == "Tiếp tục “Gia nhập công đoàn”"
    [dropped] = await worker.press("Bỏ phần đang điền")
    assert dropped.text.startswith(CANCELLED)
    assert "Tiếp tục “Gia nhập công đoàn”" not in labels(dropped)
    # Nothing stays: the phone typed while the form was set aside was no question, so it
    # was not counted as one for the funnel either (bot/services/outreach.py).
    assert await state_of(sessions) == {}


async def test_what_is_typed_while_a_form_is_set_aside_gets_only_a_hint(talk, sessions):
    """A phone number after /start mid-form is no question: no apology, no topics, nothing
    kept among the unanswered questions; only how to go back to the form or drop it."""
    worker = talk()
    await to_name(worker)
    await worker.say("Nguyễn Văn An")
    await worker.say("/start")
    for typed in ("0912345678", "cty sua cao nguyen"):
        [hint] = await worker.say(typed)
        assert hint.text == NOT_TAKEN, typed
        assert labels(hint) == [
            "Tiếp tục “Gia nhập công đoàn”", "Bỏ phần đang điền", "Về menu chính",
        ], typed  # fmt: skip
    assert await count(sessions, UnansweredQuestion) == 0
    assert "draft" not in await state_of(sessions)
    # A question the bot knows is still answered, with the form offered back.
    [answer] = await worker.say("lương tối thiểu vùng là bao nhiêu")
    assert answer.text != NOT_TAKEN and labels(answer)[0] == "Tiếp tục “Gia nhập công đoàn”"
    [thanks] = await worker.say("cảm ơn")
    assert thanks.text != NOT_TAKEN and labels(thanks)[0] == "Tiếp tục “Gia nhập công đoàn”"


async def test_other_commands_mid_form_keep_it_and_offer_it_back(talk, sessions):
    worker = talk()
    await to_story(worker)
    for command in ("/hoso", "/help", "/lang vi"):
        [reply] = await worker.say(command)
        assert labels(reply)[0] == "Tiếp tục “Gửi phản ánh”", command
    [story] = await worker.press("Tiếp tục “Gửi phản ánh”")
    assert story.text.endswith("Không cần ghi tên bạn.")
    [since] = await worker.say(STORY)
    assert since.text == "Chuyện này xảy ra từ bao giờ?"


async def test_choosing_another_form_asks_which_to_keep(talk, sessions):
    worker = talk()
    await to_story(worker)
    await worker.say(STORY)
    await worker.press("Từ 1 đến 6 tháng")
    await worker.press("Từ 11 đến 50 người")
    await worker.attach(Attachment("photo", "tg-photo-1", 1000, "image/jpeg"))
    await worker.say("/menu")
    # The same item again takes the form up where it was.
    [same] = await worker.press("Gửi phản ánh")
    assert same.text.startswith("Mình tiếp tục phần “Gửi phản ánh” nhé.\n\nBạn có ảnh")
    await worker.say("/menu")
    [which] = await worker.press("Hỗ trợ khó khăn")
    assert which.text == (
        "Bạn chưa điền xong “Gửi phản ánh”. Nếu làm “Hỗ trợ khó khăn”, phần đang điền dở sẽ bị bỏ."
    )
    assert labels(which) == [
        "Tiếp tục “Gửi phản ánh”", "Bỏ phần đó, làm “Hỗ trợ khó khăn”", "Về menu chính",
    ]  # fmt: skip
    assert await count(sessions, Evidence) == 1  # nothing is dropped before the worker says so
    [support] = await worker.press("Bỏ phần đó, làm “Hỗ trợ khó khăn”")
    assert support.text == "Bạn đang gặp chuyện gì?"
    assert await count(sessions, Evidence) == 0  # the dropped report's photo goes with it


async def test_a_form_set_aside_still_expires(talk, clock, sessions):
    worker = talk()
    await to_name(worker)
    await worker.say("/start")
    clock.now = NOW + timedelta(days=8)
    [late] = await worker.press("Tiếp tục “Gia nhập công đoàn”")
    assert late.text.startswith("Phần bạn bắt đầu điền ngày 25/11/2026 chưa xong sau 7 ngày")
    assert await state_of(sessions) == {}


async def test_an_expired_form_set_aside_does_not_end_what_the_worker_just_began(
    talk, clock, sessions
):
    worker = talk()
    await to_name(worker)
    await worker.say("/start")
    clock.now = NOW + timedelta(days=8)
    # "Leave a message" begins a flow; the old form's expiry notice comes with it.
    replies = await worker.press_payload("q:write:faq")
    assert replies[-1].text.startswith("Phần bạn bắt đầu điền ngày 25/11/2026 chưa xong")
    [done] = await worker.say("Công ty bắt làm thêm giờ mà không trả tiền")
    assert done.text.startswith("Đã gửi lời nhắn của bạn. Mã hồ sơ: HD-2026-000001.")


async def test_the_review_changes_one_field_and_comes_back(talk, sessions):
    worker = talk()
    await to_name(worker)
    await worker.say("Nguyễn Văn An")
    await worker.say("0912345678")
    [check] = await worker.say("thong xanh")
    assert check.text == "Mình hiểu là Công ty CP Khách sạn Thông Xanh, đúng không?"
    # A wrong guess is caught here: the ward is asked instead.
    [ward] = await worker.press("Không phải, chỗ khác")
    assert ward.text.startswith("Nơi làm việc của bạn ở phường, xã nào?")
    await worker.say("phuong 8")
    await worker.press("Có, tôi có hợp đồng lao động")
    [review] = await worker.press("Buổi tối")
    assert "• Nơi làm việc: thong xanh (chưa có trong danh sách)\n" in review.text
    assert "Gửi tới: Công đoàn phường Lâm Viên - Đà Lạt." in review.text
    [which] = await worker.press("Sửa")
    assert which.text == "Bạn muốn sửa phần nào?"
    assert labels(which) == [
        "Họ tên", "Số điện thoại", "Nơi làm việc", "Phường/xã", "Hợp đồng lao động",
        "Giờ tiện gọi", "Quay lại", "Huỷ",
    ]  # fmt: skip
    [back] = await worker.press("Quay lại")
    assert back.text == review.text
    await worker.press("Sửa")
    [workplace] = await worker.press("Nơi làm việc")
    assert workplace.text.startswith("Bạn làm ở đâu?")
    await worker.say("cty sua cao nguyen")
    [again] = await worker.press("Đúng rồi")  # the ward is no longer needed; nothing else asked
    assert again.text.startswith("Bạn xem lại trước khi gửi nhé:")
    assert "• Nơi làm việc: Công ty TNHH Sữa Cao Nguyên\n" in again.text
    assert "Phường/xã" not in again.text and "• Giờ tiện gọi: Buổi tối\n" in again.text
    [done, *_alerts] = await worker.press("Gửi")
    assert "Mã hồ sơ: GN-2026-000001." in done.text
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
    assert (case.route_rule, case.details["contact_time"]) == (1, "evening")
    assert TEST_VAULT.open(case.contact_sealed).startswith('{"name": "Nguyễn Văn An"')


async def test_changing_anonymity_from_the_review_asks_consent_again(talk, sessions):
    worker = talk()
    await to_story(worker)
    await worker.say(STORY)
    await worker.press("Từ 1 đến 6 tháng")
    await worker.press("Từ 11 đến 50 người")
    await worker.press("Xong, tiếp tục")
    await worker.press("Cán bộ được biết là tôi")
    [review] = await worker.press("Tôi không đồng ý")
    assert "• Ẩn danh: Tôi muốn ẩn danh\n" in review.text
    await worker.press("Sửa")
    [anonymity] = await worker.press("Ẩn danh")
    assert anonymity.text.startswith("Bạn có muốn ẩn danh không?")
    [consent] = await worker.press("Cán bộ được biết là tôi")
    assert consent.text.startswith("Bạn chọn để cán bộ biết là bạn.")
    await worker.press("Tôi đồng ý")
    [who] = await worker.say("0987654321")  # named now: who receives it is asked
    assert who.text.startswith("Bạn muốn gửi phản ánh cho ai?")
    [review] = await worker.press("Công đoàn công ty bạn")
    assert "• Ẩn danh: Cán bộ được biết là tôi\n• Số điện thoại: •••••••321\n" in review.text
    await worker.press("Gửi")
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
    assert case.anonymous is False and case.person_id is not None


async def test_a_number_typed_at_how_many_is_a_count_not_a_button(talk, sessions):
    worker = talk()
    await to_story(worker)
    await worker.say(STORY)
    [affected] = await worker.press("Từ 1 đến 6 tháng")
    assert affected.text == (
        "Có bao nhiêu người lao động bị ảnh hưởng? Bạn bấm một mục, hoặc gõ số người."
    )
    # 6 buttons are shown and the sixth is "Huỷ": typing 6 means six workers all the same.
    assert len(buttons(affected)) == 6
    [evidence] = await worker.say("6")
    assert evidence.text.startswith("Bạn có ảnh, tin nhắn thoại hay tệp PDF")
    await worker.press("Quay lại")
    await worker.say("khoảng 30 người")
    await worker.press("Quay lại")
    [no_number] = await worker.say("nhiều lắm")
    assert no_number.text.startswith("Bạn bấm một nút, hoặc gõ số người, ví dụ 6.")
    await worker.say("1")
    await worker.press("Xong, tiếp tục")
    [review] = await worker.press("Tôi muốn ẩn danh")
    assert "• Số người bị ảnh hưởng: Chỉ mình tôi\n" in review.text
    assert await count(sessions, Case) == 0
