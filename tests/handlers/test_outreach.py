"""Arriving through an outreach link: /start <code> (Telegram's deep link, the web chat's
link) or the code typed alone (Zalo), the arrival counted once, the link's workplace or ward
filled in for the forms (still confirmed), the funnel's steps counted."""

from __future__ import annotations

from sqlalchemy import select

from bot.services.outreach import new_code
from storage import outreach as links
from storage.models import Case, Conversation, OutreachCount, Union, Ward, Workplace
from tests.handlers.conftest import NOW, labels

GREETING = "Xin chào! Mình là trợ lý tự động của Công đoàn"
CAFE = "Công ty TNHH Cà phê Đồi Mây"  # no union of its own: the ward's union organises it


async def make_link(sessions, label: str, *, workplace: str | None = None, ward=None) -> str:
    async with sessions() as session:
        union = (await session.scalars(select(Union).where(Union.code == "CL-LAMVIEN"))).one()
        place = (
            await session.scalars(select(Workplace).where(Workplace.name == workplace))
        ).first()
        area = (await session.scalars(select(Ward).where(Ward.name == ward))).first()
        link = await links.add(
            session, code=new_code(), union_id=union.id, label=label,
            workplace_id=place.id if place else None, ward_id=area.id if area else None,
            created_at=NOW, active=True,
        )  # fmt: skip
        await session.commit()
        return link.code


async def counted(sessions) -> dict[tuple[int, str], int]:
    async with sessions() as session:
        rows = await session.scalars(select(OutreachCount))
        return {(row.link_id, row.step): row.count for row in rows}


async def link_id(sessions, code: str) -> int:
    async with sessions() as session:
        return (await links.by_code(session, code)).id


async def test_a_workplace_link_greets_counts_once_and_fills_the_workplace_in(talk, sessions):
    code = await make_link(sessions, "Quán cà phê Đồi Mây", workplace=CAFE)
    worker = talk("501", "telegram")
    [hello] = await worker.say(f"/start {code}")
    assert hello.text.startswith(GREETING)
    assert hello.text.endswith(
        f"Bạn đến qua lời mời của công đoàn dành cho {CAFE}. Khi bạn điền đơn, mình sẽ "
        "hỏi lại để bạn xác nhận."
    )
    await worker.say(f"/start {code}")  # scanned again: the same person, counted once
    link = await link_id(sessions, code)
    assert await counted(sessions) == {(0, "arrival"): 1, (link, "arrival"): 1}
    async with sessions() as session:
        stored = (await session.scalars(select(Conversation.state))).one()
    # Which poster brought this person (so where they work) is sealed like a draft.
    assert list(stored) == ["sealed"] and "Đồi Mây" not in repr(stored)

    await worker.say("cong ty no luong thi lam sao")
    await worker.say("nghi phep nam duoc bao nhieu ngay")  # asked already: counted once
    assert (await counted(sessions))[link, "question"] == 1
    assert (await counted(sessions))[0, "question"] == 1

    await worker.press_payload("join:start")
    await worker.press("Tôi đồng ý")
    await worker.say("Trần Thị Bình")
    [check] = await worker.say("0912345678")  # the workplace is not asked: it is confirmed
    assert check.text == f"Mình hiểu là {CAFE}, đúng không?"
    await worker.press("Đúng rồi")
    await worker.press("Có, tôi có hợp đồng lao động")
    [review] = await worker.press("Buổi sáng")
    assert f"• Nơi làm việc: {CAFE}\n" in review.text
    assert "Gửi tới: Công đoàn phường Lâm Viên - Đà Lạt." in review.text
    await worker.press("Gửi")
    async with sessions() as session:
        case = (await session.scalars(select(Case))).one()
    assert (case.kind, case.outreach_link_id, case.route_rule) == ("membership", link, 2)


async def test_no_it_is_another_place_asks_where_the_worker_works(talk, sessions):
    code = await make_link(sessions, "Quán cà phê Đồi Mây", workplace=CAFE)
    worker = talk("502", "telegram")
    await worker.say(f"/start {code}")
    await worker.press_payload("join:start")
    await worker.press("Tôi đồng ý")
    await worker.say("Trần Thị Bình")
    await worker.say("0912345678")
    [asked] = await worker.press("Không phải, chỗ khác")
    assert asked.text.startswith("Bạn làm ở đâu?")


async def test_a_ward_link_fills_the_ward_in_when_the_workplace_is_unknown(talk, sessions):
    code = await make_link(sessions, "Nhà trọ phường Lâm Viên", ward="Phường Lâm Viên - Đà Lạt")
    worker = talk("503", "zalo")
    # Zalo's links carry no parameter: the worker types the poster's code, any case.
    [hello] = await worker.say(f"Mã: {code.upper()}")
    assert hello.text.startswith(GREETING) and "Phường Lâm Viên - Đà Lạt" in hello.text
    await worker.press_payload("join:start")
    await worker.press("Tôi đồng ý")
    await worker.say("Trần Thị Bình")
    [where] = await worker.say("0912345678")
    assert where.text.startswith("Bạn làm ở đâu?")  # a ward's link still asks the workplace
    [contract] = await worker.say("quan an nho o duong Phan Dinh Phung")  # not in the list
    assert contract.text == "Bạn có hợp đồng lao động không?"  # the ward is known: not asked
    await worker.press("Có, tôi có hợp đồng lao động")
    [review] = await worker.press("Buổi sáng")
    assert "• Phường/xã: Phường Lâm Viên - Đà Lạt\n" in review.text
    assert "Gửi tới: Công đoàn phường Lâm Viên - Đà Lạt." in review.text


async def test_codes_that_are_not_links_change_nothing(talk, sessions):
    await make_link(sessions, "Tết 2027 ở khu công nghiệp Phú Hội")
    worker = talk("504", "telegram")
    for text in ("/start zzzz2222", "/start ../../etc/passwd", "/start " + "a" * 300):
        [hello] = await worker.say(text)
        assert hello.text.startswith(GREETING) and "lời mời" not in hello.text
    [answer] = await worker.say("abcd2345")  # looks like a code, is none: a question
    assert not answer.text.startswith(GREETING)
    assert await counted(sessions) == {(0, "arrival"): 1, (0, "question"): 1}
    assert "Gia nhập công đoàn" in labels(hello)
