"""Steps of a dialogue that several test files share: the main menu, a worker's report up to
the anonymity question and its sending, an officer added to a union.

A `worker` here is a `Talk` (tests/handlers/conftest.py): it says things and presses buttons
by their label, as a person would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.services import accounts
from handlers.types import Outgoing
from storage import db
from tests.handlers.conftest import NOW, buttons

if TYPE_CHECKING:
    from tests.handlers.conftest import Talk

# The main menu, as /start shows it: three rows of two buttons, then the news.
MENU_LABELS = [
    ["Hỏi đáp", "Gia nhập công đoàn"],
    ["Gửi phản ánh", "Hỗ trợ khó khăn"],
    ["Theo dõi hồ sơ", "Ngôn ngữ / Language"],
    ["Nhận tin công đoàn"],
]
MENU_PAYLOADS = [
    ["faq:home", "join:start"],
    ["report:start", "support:start"],
    ["status:list", "lang:choose"],
    ["sub:show"],
]
# The same payloads in one list, as `buttons(reply)` gives them.
MENU = [
    "faq:home", "join:start", "report:start", "support:start", "status:list",
    "lang:choose", "sub:show",
]  # fmt: skip

STORY = "Công ty nợ lương hai tháng rồi, cả xưởng 40 người chưa ai được trả."


async def to_anonymity(worker: Talk, story: str = STORY) -> Outgoing:
    """From /start to the question "anonymous or not?" of a report: unpaid wages at the dairy
    (the bot's guess confirmed), the story, for months, 11 to 50 people, no files."""
    await worker.say("/start")
    [category] = await worker.press("Gửi phản ánh")
    assert category.text == "Bạn muốn phản ánh về việc gì?"
    assert buttons(category)[0] == "f:grievance:category:wages"
    [where] = await worker.press("Nợ lương, chậm lương")
    assert where.text.startswith("Việc này xảy ra ở đâu?")
    [check] = await worker.say("nha may sua cao nguyen")
    # The match is echoed, so a wrong guess is caught where it is made.
    assert check.text == "Mình hiểu là Công ty TNHH Sữa Cao Nguyên, đúng không?"
    [what] = await worker.press("Đúng rồi")
    assert what.text.startswith("Chuyện gì đã xảy ra?")
    await worker.say(story)
    await worker.press("Từ 1 đến 6 tháng")
    [proof] = await worker.press("Từ 11 đến 50 người")
    assert proof.text.startswith("Bạn có ảnh, tin nhắn thoại hay tệp PDF cho thấy sự việc không")
    [anonymity] = await worker.press("Xong, tiếp tục")
    assert anonymity.text.startswith("Bạn có muốn ẩn danh không?")
    return anonymity


# Who receives a report from a workplace with its own union: the two buttons.
COMPANY_UNION = "Công đoàn công ty bạn"
OUTSIDE_UNION = "Công đoàn cấp trên, ngoài công ty"


async def file_report(
    worker: Talk, anonymity: str = "Tôi muốn ẩn danh", recipient: str | None = None
) -> list[Outgoing]:
    """From the anonymity question: choose, then send from the review; the receipt first,
    then what went to officers. An anonymous report goes outside the company unless
    `recipient` (COMPANY_UNION) is chosen from the review's "Sửa"."""
    [review] = await worker.press(anonymity)
    assert review.text.startswith("Bạn xem lại trước khi gửi nhé:")
    if recipient is not None:
        await worker.press("Sửa")
        [question] = await worker.press("Gửi tới")
        assert question.text.startswith("Bạn muốn gửi phản ánh cho ai?")
        [review] = await worker.press(recipient)
        assert review.text.startswith("Bạn xem lại trước khi gửi nhé:")
    return await worker.press("Gửi")


WAGES = "Công ty nợ lương hai tháng rồi, cả xưởng chưa ai được trả"


async def report_to_the_dairy_union(worker: Any, story: str = WAGES) -> None:
    """Over a messenger (anyone who can `say` and `press`, e.g. TelegramUser or a
    tests/fakes/messengers.py Worker): an anonymous unpaid-wages report at the dairy, sent to
    its own union rather than the one above, up to the review's last "Gửi" (the caller
    presses it, waiting for what it expects)."""
    await worker.say("/start")
    await worker.press("Gửi phản ánh")
    await worker.press("Nợ lương, chậm lương")
    await worker.say("sua cao nguyen")
    await worker.press("Đúng rồi")
    await worker.say(story)
    await worker.press("Từ 1 đến 6 tháng")
    await worker.press("Từ 11 đến 50 người")
    await worker.press("Xong, tiếp tục")
    await worker.press("Tôi muốn ẩn danh")
    await worker.press("Sửa")
    await worker.press("Gửi tới")
    await worker.press(COMPANY_UNION)


async def add_officer(
    sessions: db.Sessions, union: str, name: str, telegram: str | None, role: str = "officer"
) -> int:
    """An officer of `union` (by its code), linked to that Telegram user id if given."""
    async with sessions() as session:
        officer = await accounts.add_officer(
            session, union_code=union, name=name, role=role, now=NOW, telegram_user_id=telegram
        )
        await session.commit()
        return officer.id
