"""/dangky and /dung: a worker chooses which broadcasts they receive, and stops them all."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Conversation, Person, Subscription
from tests.handlers.conftest import buttons, labels
from tests.scenarios import MENU
from tests.support import count

NONE_YET = "Bạn chưa nhận tin nào từ công đoàn."
TAP = "Bấm chọn loại tin bạn muốn nhận (bấm lần nữa để bỏ)."
STOPPED = "Đã dừng: bạn sẽ không nhận tin từ công đoàn nữa. Muốn nhận lại, gõ /dangky."
NOTHING_TO_STOP = (
    "Bạn chưa đăng ký nhận tin nào từ công đoàn, nên không có gì cần dừng. "
    "Muốn nhận tin, gõ /dangky."
)
REFUSAL = "Nút này không còn dùng được. Bạn chọn lại giúp mình nhé."
ALL = ["activities", "policy", "support"]


async def chosen(sessions, user: str = "800") -> list[str]:
    """The topics a worker receives, as the database holds them."""
    async with sessions() as session:
        found = await session.scalars(
            select(Subscription.topic)
            .join(Person, Person.id == Subscription.person_id)
            .where(Person.channel_user_id == user)
            .order_by(Subscription.topic)
        )
        return list(found)


async def conversation(sessions) -> list[tuple[int, dict]]:
    async with sessions() as session:
        rows = await session.execute(select(Conversation.person_id, Conversation.state))
        return [tuple(row) for row in rows]


async def subscribed_to_all(talk, user: str = "800"):
    worker = talk(user, "telegram")
    await worker.say("/dangky")
    await worker.press("Nhận tất cả")
    return worker


async def test_a_worker_chooses_topics_and_each_press_is_stored_at_once(talk, sessions):
    worker = talk("800", "telegram")
    [choice] = await worker.say("/dangky")
    assert choice.text == f"{NONE_YET}\n{TAP}"
    assert buttons(choice) == [
        "sub:on:policy", "sub:on:activities", "sub:on:support", "sub:all", "sub:done",
    ]  # fmt: skip
    assert labels(choice) == [
        "Tin chính sách", "Hoạt động công đoàn", "Chương trình hỗ trợ", "Nhận tất cả", "Xong",
    ]  # fmt: skip
    [again] = await worker.press("Tin chính sách")
    assert await chosen(sessions) == ["policy"]
    assert again.text == f"Bạn đang nhận: Tin chính sách.\n{TAP}"
    assert labels(again)[0] == "✓ Tin chính sách" and buttons(again)[0] == "sub:off:policy"
    await worker.press("Hoạt động công đoàn")
    assert await chosen(sessions) == ["activities", "policy"]
    # Tapped again, a topic is turned off.
    [off] = await worker.press("✓ Tin chính sách")
    assert await chosen(sessions) == ["activities"]
    assert labels(off)[:3] == ["Tin chính sách", "✓ Hoạt động công đoàn", "Chương trình hỗ trợ"]
    [done] = await worker.press("Xong")
    assert done.text == "Xong. Bạn sẽ nhận: Hoạt động công đoàn. Muốn dừng, gõ /dung."
    assert buttons(done) == MENU
    # Shown again, the choice says what they receive now.
    [shown] = await worker.say("/dangky")
    assert shown.text.startswith("Bạn đang nhận: Hoạt động công đoàn.\n")


async def test_the_menu_opens_the_choice_and_receive_all_takes_every_topic(talk, sessions):
    worker = talk("800", "telegram")
    await worker.say("/start")
    [choice] = await worker.press("Nhận tin công đoàn")
    assert choice.text == f"{NONE_YET}\n{TAP}"
    [every] = await worker.press("Nhận tất cả")
    assert await chosen(sessions) == ALL
    assert every.text.startswith(
        "Bạn đang nhận: Tin chính sách, Hoạt động công đoàn, Chương trình hỗ trợ.\n"
    )
    assert all(label.startswith("✓ ") for label in labels(every)[:3])
    await worker.press_payload("sub:all")  # pressed twice: nothing more, nothing fails
    assert await chosen(sessions) == ALL
    # Everything turned off, "Done" says so.
    for topic in ("policy", "activities", "support"):
        await worker.press_payload(f"sub:off:{topic}")
    [done] = await worker.press("Xong")
    assert done.text == ("Xong. Bạn sẽ không nhận tin từ công đoàn. Muốn đăng ký, gõ /dangky.")
    assert await chosen(sessions) == []


async def test_dung_stops_every_topic_and_says_how_to_come_back(talk, sessions):
    worker = await subscribed_to_all(talk)
    [stopped] = await worker.say("/dung")
    assert stopped.text == STOPPED
    assert buttons(stopped) == MENU
    assert await count(sessions, Subscription) == 0
    # Stopping again: nothing to stop, said kindly.
    [again] = await worker.say("/dung")
    assert again.text == NOTHING_TO_STOP


async def test_stopping_when_never_subscribed(talk, sessions):
    [first] = await talk("801", "telegram").say("/dung")
    assert first.text == NOTHING_TO_STOP
    [typed] = await talk("802", "telegram").say("dừng")
    assert typed.text == NOTHING_TO_STOP
    assert await count(sessions, Subscription) == 0


async def test_stop_words_typed_alone_outside_a_form_stop_everything(talk, sessions):
    worker = await subscribed_to_all(talk)
    typed = (
        "dừng", "Dừng", "huỷ đăng ký", "Hủy đăng ký", "dừng nhận tin", "Ngừng nhận tin",
        "stop", "STOP", "dừng!",
    )  # fmt: skip
    for text in typed:
        await worker.press_payload("sub:all")
        assert await chosen(sessions) == ALL
        [stopped] = await worker.say(text)
        assert stopped.text == STOPPED, text
        assert await chosen(sessions) == [], text


async def test_the_name_dung_and_longer_sentences_stop_nothing(talk, sessions):
    worker = await subscribed_to_all(talk)
    for text in ("Dũng", "dung", "Dung", "dũng", "huy dang ky", "tôi muốn dừng làm ở công ty"):
        replies = await worker.say(text)
        assert all(r.text != STOPPED for r in replies), text
        assert await chosen(sessions) == ALL, text


async def test_inside_a_form_dung_is_the_forms_cancel_word_and_news_stays(talk, sessions):
    worker = await subscribed_to_all(talk)
    [consent] = await worker.press_payload("join:start")
    assert consent.text.startswith("Để đăng ký, mình cần họ tên")
    # Where only buttons are expected, "dừng" cancels the form at once (handlers/forms.py).
    [cancelled] = await worker.say("dừng")
    assert cancelled.text.startswith("Đã huỷ, chưa có gì được gửi đi.")
    assert await chosen(sessions) == ALL
    # Where text is expected, the form asks first.
    await worker.press_payload("join:start")
    await worker.press("Tôi đồng ý")
    [asked] = await worker.say("dừng")
    assert asked.text == "Bạn muốn huỷ phần đang điền? Chưa có gì được gửi đi."
    assert await chosen(sessions) == ALL


async def test_dung_mid_form_stops_the_news_and_keeps_the_form(talk, sessions):
    worker = await subscribed_to_all(talk)
    await worker.press_payload("join:start")
    await worker.press("Tôi đồng ý")
    [stopped] = await worker.say("/dung")
    assert stopped.text.startswith(STOPPED)
    assert await chosen(sessions) == []
    # The form was set aside, and is offered back.
    assert buttons(stopped)[:2] == ["f:membership:name:-resume", "f:membership:name:-cancel"]
    [name] = await worker.press_payload("f:membership:name:-resume")
    assert name.text.endswith("Họ tên đầy đủ của bạn là gì?")


async def test_forged_sub_buttons_are_refused_and_change_nothing(talk, sessions):
    worker = talk("800", "telegram")
    await worker.say("/dangky")
    await worker.press("Tin chính sách")
    before = await conversation(sessions)
    for payload in (
        "sub:on:weather", "sub:off:everything", "sub:on", "sub:off", "sub:all:policy",
        "sub:done:support", "sub:show:x", "sub:toggle:policy", "sub:ON:policy", "sub:",
        "sub", "sub:on:policy:x", "sub:on:policy;drop table", "sub:on:POLICY",
    ):  # fmt: skip
        [reply] = await worker.press_payload(payload)
        assert reply.text == REFUSAL, payload
    assert await chosen(sessions) == ["policy"]
    assert await conversation(sessions) == before


async def test_only_the_choice_screen_may_be_pressed_by_someone_unknown(talk, sessions):
    [refused] = await talk("803", "telegram").press_payload("sub:on:policy")
    assert refused.text == REFUSAL
    assert await count(sessions, Person) == 0
    # The menu's "Union news" is an entry point (the menu stays after /xoadulieu).
    [shown] = await talk("803", "telegram").press_payload("sub:show")
    assert shown.text == f"{NONE_YET}\n{TAP}"


async def test_where_broadcasts_do_not_reach_nothing_is_stored(talk, sessions):
    worker = talk("804", "terminal")
    [told] = await worker.say("/dangky")
    assert told.text == (
        "Tin công đoàn được gửi qua Telegram và Zalo. Muốn nhận tin, bạn nhắn cho công đoàn "
        "ở đó rồi gõ /dangky."
    )
    assert buttons(told) == MENU
    for payload in ("sub:on:policy", "sub:all"):
        [again] = await worker.press_payload(payload)
        assert again.text == told.text
    assert await count(sessions, Subscription) == 0


async def register(worker) -> list:
    """The membership form from the menu to its receipt (its own tests check each step)."""
    await worker.say("/start")
    await worker.press("Gia nhập công đoàn")
    await worker.press("Tôi đồng ý")
    await worker.say("Nguyễn Văn An")
    await worker.say("0912345678")
    await worker.say("cty sua cao nguyen")
    await worker.press("Đúng rồi")
    await worker.press("Có, tôi có hợp đồng lao động")
    await worker.press("Buổi sáng")
    [receipt, *_alerts] = await worker.press("Gửi")
    assert receipt.text.startswith("Cảm ơn bạn! Mình đã ghi nhận đăng ký.")
    return buttons(receipt)


async def test_the_membership_receipt_offers_the_news_first_until_subscribed(talk, sessions):
    offered = await register(talk("805", "telegram"))
    assert offered == ["sub:show", *MENU[:-1]]
    worker = await subscribed_to_all(talk, "806")
    assert await register(worker) == MENU
    # Where broadcasts do not reach, the menu is as always.
    assert await register(talk("807", "terminal")) == MENU


async def test_erasing_my_data_deletes_my_subscriptions(talk, sessions):
    worker = await subscribed_to_all(talk)
    await subscribed_to_all(talk, "808")  # someone else's stay
    [shown] = await worker.say("/xoadulieu")
    assert "• tin bạn đang nhận: Tin chính sách, Hoạt động công đoàn, Chương trình hỗ trợ\n" in (
        shown.text
    )
    [done] = await worker.press("Xoá dữ liệu của tôi")
    assert "• đăng ký nhận tin công đoàn" in done.text
    assert await chosen(sessions) == []
    assert await chosen(sessions, "808") == ALL
    async with sessions() as session:
        people = (await session.scalars(select(Person.channel_user_id))).all()
    assert people == ["808"]
