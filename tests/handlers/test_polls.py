"""Quick polls with the dispatcher and a fixed clock, on both databases: an answer is kept once
under a keyed respondent with the worker's segment facts and replaced when changed; presses
that cannot be answers change nothing; a closed poll says so; the results hide small cells
and what would give them away; erasure forgets the answers; on Zalo the numbered answers the
broadcaster remembered are read back as the press."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from sqlalchemy import select

from bot.broadcaster import Broadcaster
from bot.channels import zalo
from bot.channels.base import Delivery, Pace
from bot.outbox import Sender
from bot.services import polls
from handlers.payloads import Privacy, Vote
from handlers.types import Incoming
from storage import broadcasts, choices, unions
from storage import polls as stored
from storage.localtime import start_of_day
from storage.models import Broadcast, Person, PollAnswer
from storage.polls import Segment
from tests.support import TEST_VAULT, poll_worker, sent_poll

OPTIONS = ("Có", "Không", "Chưa biết")
STALE = "Nút này không còn dùng được. Bạn chọn lại giúp mình nhé."
TOGETHER = (
    "Muốn đổi, bạn chỉ cần chọn câu trả lời khác trong khảo sát. "
    "Các câu trả lời chỉ được đếm chung, không bao giờ kèm tên bạn."
)


async def only_person(session) -> Person:
    return (await session.scalars(select(Person))).one()


async def answers(database) -> list[PollAnswer]:
    async with database.sessions() as session:
        return list((await session.scalars(select(PollAnswer))).all())


async def test_an_answer_is_kept_once_under_a_keyed_respondent_and_replaced(database, talk, clock):
    async with database.sessions() as session:
        person = await poll_worker(
            session, "501", clock.now, union="GR-SUACAONGUYEN",
            workplace="Công ty TNHH Sữa Cao Nguyên", contract="no_contract",
        )  # fmt: skip
        poll = await sent_poll(session, OPTIONS, clock.now)
        union = await unions.by_code(session, "GR-SUACAONGUYEN")
        place = await unions.workplace_named(session, "Công ty TNHH Sữa Cao Nguyên")
        await session.commit()
    worker = talk("501", "telegram")
    [reply] = await worker.press_payload(Vote(poll.id, 0).pack())
    assert reply.text == f"Cảm ơn bạn! Câu trả lời của bạn đã được ghi nhận: “Có”.\n{TOGETHER}"
    assert reply.buttons == ()  # on Zalo the poll's numbers stay the ones typed back
    [row] = await answers(database)
    assert row.respondent == TEST_VAULT.tag(f"poll:{poll.id}:{person.id}")
    # A keyed hash, one per poll: nothing in the row is the person's id.
    assert "person_id" not in PollAnswer.__table__.c and row.respondent != str(person.id)
    facts = Segment(row.union_id, row.ward_id, row.workplace_id, row.work)
    assert facts == Segment(union.id, place.ward_id, place.id, "no_contract")
    assert (row.option, row.answered_at) == (0, start_of_day(clock.now))  # the day only

    [changed] = await worker.press_payload(Vote(poll.id, 2).pack())
    assert changed.text.startswith("Đã đổi câu trả lời của bạn thành: “Chưa biết”. Cảm ơn bạn!")
    [again] = await worker.press_payload(Vote(poll.id, 2).pack())
    assert again.text.startswith("Câu trả lời của bạn đã được ghi nhận rồi: “Chưa biết”.")
    assert [(a.respondent, a.option) for a in await answers(database)] == [(row.respondent, 2)]


async def test_presses_that_cannot_be_answers_change_nothing(database, talk, clock):
    async with database.sessions() as session:
        await poll_worker(session, "601", clock.now)
        poll = await sent_poll(session, OPTIONS, clock.now)
        plain = await sent_poll(session, (), clock.now, text="Tin thường")
        await poll_worker(session, "602", clock.now)  # subscribed after the poll went out
        await session.commit()
    worker, latecomer = talk("601", "telegram"), talk("602", "telegram")
    forged = [
        Vote(poll.id, 3).pack(), Vote(plain.id, 0).pack(), Vote(99999, 0).pack(),
        f"poll:{poll.id}", f"poll:{poll.id}:-1", f"poll:x:{poll.id}", f"poll:{poll.id}:0:1",
    ]  # fmt: skip
    for payload in forged:
        [reply] = await worker.press_payload(payload)
        assert reply.text == STALE, payload
    [reply] = await latecomer.press_payload(Vote(poll.id, 0).pack())
    assert reply.text == STALE
    assert await answers(database) == []

    # Closed: after ANSWER_DAYS, or cancelled.
    clock.now += timedelta(days=polls.ANSWER_DAYS)
    [late] = await worker.press_payload(Vote(poll.id, 0).pack())
    assert late.text == (
        "Cảm ơn bạn! Khảo sát này đã kết thúc nên câu trả lời không còn được tính nữa."
    )
    clock.now -= timedelta(days=polls.ANSWER_DAYS)
    async with database.sessions() as session:
        (await session.get(Broadcast, poll.id)).status = "cancelled"
        await session.commit()
    [cancelled] = await worker.press_payload(Vote(poll.id, 0).pack())
    assert cancelled.text == late.text
    assert await answers(database) == []


async def test_results_hide_small_cells_and_what_would_give_them_away(database, dispatcher, clock):
    """12 answers from two unions' workers: 9 "Có" (6 and 3), 3 "Không", none "Chưa biết".
    Every count under 5 is "<5", and the 6 beside the 3 is hidden too: knowing the 9 would
    give the 3 away."""
    async with database.sessions() as session:
        poll = await sent_poll(session, OPTIONS, clock.now)
        ids = {c: (await unions.by_code(session, c)).id for c in ("GR-THONGXANH", "GR-BVDALAT")}
        given = [("GR-THONGXANH", 0)] * 6 + [("GR-BVDALAT", 0)] * 3 + [("GR-THONGXANH", 1)] * 3
        for i, (union, option) in enumerate(given):
            facts = Segment(union_id=ids[union], work="contract")
            await stored.record(session, poll.id, f"r{i}", option, facts, clock.now)
        await session.commit()
        with dispatcher.services.catalogs.activate("vi"):  # as the officer's page does
            found = await polls.results(session, poll)
    assert found.answered == 12
    shown = [(c.count, c.small) for c in found.by_answer]
    assert shown == [(9, False), (None, True), (None, True)]
    by_union = {
        row.label: [(c.count, c.small) for c in row.cells] for row in found.segments["union"]
    }
    assert by_union == {
        "Công đoàn cơ sở Bệnh viện Đa khoa Tư nhân Hồ Xuân": [(None, True)] * 3,
        # Hidden only to protect the 3: shown, it would give the 3 away as 9 - 6.
        "Công đoàn cơ sở Công ty CP Khách sạn Thông Xanh": [(None, False)] + [(None, True)] * 2,
    }  # fmt: skip
    [work] = found.segments["work"]
    assert (work.label, [c.count for c in work.cells]) == ("có hợp đồng lao động", [9, None, None])
    [ward] = found.segments["ward"]
    assert (ward.key, ward.label, [c.count for c in ward.cells]) == ("", "Chưa rõ", [9, None, None])

    async with database.sessions() as session:
        await stored.forget(session, [(poll.id, f"r{i}") for i in range(8)])
        await session.commit()
        few = await polls.results(session, poll)
    assert few.answered is None  # 4 answers: not even their number is shown


async def test_erasure_forgets_the_answers(database, talk, clock):
    async with database.sessions() as session:
        await poll_worker(session, "701", clock.now)
        poll = await sent_poll(session, OPTIONS, clock.now)
        await session.commit()
    worker = talk("701", "telegram")
    await worker.press_payload(Vote(poll.id, 1).pack())
    assert len(await answers(database)) == 1
    await worker.say("/xoadulieu")
    [done] = await worker.press_payload(Privacy("erase").pack())
    assert "• 1 câu trả lời khảo sát nhanh của bạn" in done.text
    assert await answers(database) == []


class ZaloRecorder:
    """A Zalo-like messenger taking broadcasts: a keyboard that does not fit Zalo's buttons
    goes as numbered lines (bot/channels/zalo.py render)."""

    name = "zalo"
    keeps_history = False

    def __init__(self) -> None:
        self.pace = Pace(0)
        self.sent: list[Delivery] = []

    async def broadcast(self, delivery: Delivery) -> None:
        await asyncio.sleep(0)
        self.sent.append(delivery)

    def numbered(self, delivery: Delivery) -> list[str]:
        return zalo.render(delivery, "")[1]


async def test_on_zalo_the_number_typed_back_is_the_answer(database, dispatcher, talk, clock):
    """Six answers do not fit Zalo's five buttons: they go as numbered lines, remembered with
    the claim, so "2" typed back is the second answer."""
    six = ("Rất tốt", "Tốt", "Bình thường", "Chưa tốt", "Kém", "Không ý kiến")
    async with database.sessions() as session:
        await poll_worker(session, "z-9", clock.now, channel="zalo")
        poll = await sent_poll(session, six, clock.now, started=False)
        await session.commit()
    channel = ZaloRecorder()
    engine = Broadcaster(Sender(database, dispatcher.services, {}), {"zalo": channel}, owner="me")
    assert await engine.tick() == [poll.id]
    while await engine.deliver_some(channel):
        pass
    await asyncio.gather(*engine._sends)
    await engine.flush()
    [sent] = channel.sent
    assert [label for row in sent.buttons for label, _payload in row] == list(six)
    async with database.sessions() as session:
        sealed = await choices.shown(session, "zalo", "z-9")
    options = json.loads(TEST_VAULT.open(sealed))
    assert options == [Vote(poll.id, i).pack() for i in range(6)]
    # The Zalo channel maps a typed "2" to the second option; the dispatcher reads the press.
    typed = Incoming("zalo", "z-9", "z-9", text="2", numbered=options[1])
    [reply] = await talk("z-9", "zalo").send(typed)
    assert reply.text.startswith("Cảm ơn bạn! Câu trả lời của bạn đã được ghi nhận: “Tốt”.")
    [row] = await answers(database)
    assert row.option == 1


async def test_the_janitor_keeps_who_a_poll_went_to_while_it_takes_answers(database, clock):
    """Deliveries are pruned a few days after a broadcast ends, a poll's only once its
    answers have closed: they say who may answer."""
    async with database.sessions() as session:
        await poll_worker(session, "801", clock.now)
        poll = await sent_poll(session, OPTIONS, clock.now)
        plain = await sent_poll(session, (), clock.now, text="Tin thường")
        for done in (poll, plain):
            done.status, done.finished_at = "done", clock.now
        await session.commit()
        later = clock.now + timedelta(days=10)
        answers_close = later - timedelta(days=polls.ANSWER_DAYS)
        pruned = await broadcasts.prune(
            session, later - timedelta(days=7), polls_before=answers_close
        )
        assert pruned == 1  # the plain message's one delivery
        assert await broadcasts.reached(session, poll.id, (await only_person(session)).id)
        gone = await broadcasts.prune(session, later, polls_before=later)
        assert gone == 1
