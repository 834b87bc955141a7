"""What the janitor (bot/retention.py) removes, table by table, on both databases: only what
is past its time, never a pending update, an unsent message, a visitor with anything to
follow, a draft still valid or an open case; a second run finds nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.outbox import seal_body
from storage import cases, conversations, directory, evidence, inbox, outbox, people, unions
from storage.inbox import NewUpdate
from storage.models import (
    AuditEntry,
    Case,
    CaseMessage,
    Conversation,
    Evidence,
    InboxItem,
    OutboxItem,
    Person,
)
from tests.support import SAMPLE_DIRECTORY, TEST_VAULT, count

NOW = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
CUTOFF = NOW - timedelta(days=1)
OLD = NOW - timedelta(days=3)
RECENT = NOW - timedelta(hours=2)


async def test_handled_updates_go_after_the_cutoff_and_pending_ones_never(sessions):
    async with sessions() as session:
        updates = [NewUpdate("telegram", str(i), {"message": {"text": "chào"}}) for i in range(6)]
        await inbox.store(session, updates, OLD)
        ids = {p.external_id: p.id for p in await inbox.claim(session, ["telegram"])}
        await inbox.finish(session, [ids["0"], ids["1"]], OLD)
        await inbox.finish(session, [ids["2"]], OLD, status="ignored")
        for _ in range(inbox.MAX_ATTEMPTS):
            await inbox.record_failure(session, ids["3"], "boom", OLD)  # given up
        await inbox.finish(session, [ids["4"]], RECENT)  # handled after the cut-off
        await session.commit()  # "5" stays pending, however old
        assert await inbox.prune(session, CUTOFF, limit=3) == 3  # bounded per run
        assert await inbox.prune(session, CUTOFF, limit=3) == 1
        assert await inbox.prune(session, CUTOFF) == 0  # nothing left to do
        await session.commit()
        left = (await session.scalars(select(InboxItem.external_id))).all()
    assert sorted(left) == ["4", "5"]


async def add_message(session, channel, chat, created, sent=None, failed=False) -> int:
    row = outbox.message(
        channel=channel, chat_id=chat, person_id=None, now=created,
        sealed=seal_body(TEST_VAULT, "Mã hồ sơ KN-2026-000001, PIN 123456", []),
    )  # fmt: skip
    [message_id] = await outbox.add(session, [row])
    if sent is not None:
        await outbox.mark_sent(session, [message_id], sent)
    if failed:
        await outbox.record_failure(session, message_id, "blocked", created, permanent=True)
    return message_id


async def test_sent_messages_go_after_the_cutoff_and_unsent_ones_stay(sessions):
    async with sessions() as session:
        gone = {
            await add_message(session, "telegram", "501", OLD, sent=OLD),
            await add_message(session, "telegram", "502", OLD, failed=True),  # given up
        }
        kept = {
            await add_message(session, "telegram", "503", OLD, sent=RECENT),
            await add_message(session, "telegram", "504", OLD),  # not sent yet: stays
            await add_message(session, "telegram", "505", OLD, sent=None),
        }
        web = await add_message(session, "web", "v" * 32, OLD, sent=OLD)
        await session.commit()
        assert await outbox.prune(session, CUTOFF, other_than=["web"]) == 2
        assert await outbox.prune(session, CUTOFF, other_than=["web"]) == 0
        await session.commit()
        left = set((await session.scalars(select(OutboxItem.id))).all())
        assert left == kept | {web} and not left & gone
        # The web chat's rows have a period of their own.
        # Sent on OLD's day, kept as its start (09:30 in Đà Lạt less 9½ hours).
        assert await outbox.prune(session, OLD - timedelta(hours=12), channels=["web"]) == 0
        assert await outbox.prune(session, CUTOFF, channels=["web"], limit=5) == 1
        await session.commit()
    assert await count(sessions, OutboxItem) == len(kept)


def tag(person_id: int) -> str:
    return f"reporter-{person_id}"


async def visitor(session, name: str, created=OLD, channel="web") -> Person:
    return await people.create(session, channel, name.ljust(32, "x"), "vi", created)


async def test_only_visitors_who_left_nothing_are_forgotten(sessions):
    async with sessions() as session:
        await unions.import_directory(session, directory.load(SAMPLE_DIRECTORY))
        root = await unions.root(session)
        idle = await visitor(session, "idle")
        idle_too = await visitor(session, "idletoo")  # an empty state left behind
        conversations.put(session, {}, idle_too.id, {}, OLD)
        recent = await visitor(session, "recent", created=RECENT)
        named = await visitor(session, "named")
        await cases.open(
            session, kind="question", union_id=root.id, person_id=named.id, text="x", now=OLD
        )
        anonymous = await visitor(session, "anonymous")
        await cases.open(
            session, kind="grievance", union_id=root.id, person_id=None, text="x", now=OLD,
            anonymous=True, reporter_tag=tag(anonymous.id),
        )  # fmt: skip
        consented = await visitor(session, "consented")
        consented.consent_at = OLD
        writing = await visitor(session, "writing")
        conversations.put(session, {}, writing.id, {"flow": "question"}, OLD)
        lately = await visitor(session, "lately")  # wrote after the cut-off
        conversations.put(session, {}, lately.id, {}, RECENT)
        waiting = await visitor(session, "waiting")
        telegram = await visitor(session, "777", channel="telegram")
        newest = await visitor(session, "newest")  # the highest id is never deleted
        await session.flush()
        for person, sent in ((idle, OLD), (waiting, None)):
            row = outbox.message(
                channel="web", chat_id=person.channel_user_id, person_id=person.id, now=OLD,
                sealed=seal_body(TEST_VAULT, "Chào bạn", []),
            )  # fmt: skip
            [message_id] = await outbox.add(session, [row])
            if sent is not None:
                await outbox.mark_sent(session, [message_id], sent)
        await session.commit()
        assert await people.forget_idle(session, "web", CUTOFF, tag) == 2
        assert await people.forget_idle(session, "web", CUTOFF, tag) == 0
        await session.commit()
        left = {p.id for p in (await session.scalars(select(Person))).all()}
    survivors = (recent, named, anonymous, consented, writing, lately, waiting, telegram, newest)
    assert left == {p.id for p in survivors}
    assert await count(sessions, OutboxItem) == 1  # the waiting visitor's, unsent
    assert await count(sessions, Conversation) == 2  # writing, lately


async def test_forgetting_visitors_is_bounded(sessions):
    async with sessions() as session:
        for i in range(4):
            await visitor(session, f"visitor{i}")
        await session.commit()
        assert await people.forget_idle(session, "web", CUTOFF, tag, limit=2) == 2
        assert await people.forget_idle(session, "web", CUTOFF, tag, limit=2) == 1
        await session.commit()
    assert await count(sessions, Person) == 1


def form_state(expires: datetime, **more) -> dict:
    return {"flow": "form", "form": "grievance", "step": "story", "expires": expires.isoformat(),
            **more}  # fmt: skip


async def test_conversations_past_a_deadline_or_untouched_are_found(sessions):
    deadlines = [("expires",), ("paused", "expires")]
    async with sessions() as session:
        states = {
            "expired": (form_state(NOW - timedelta(minutes=1)), RECENT),
            "expired_aside": ({"paused": form_state(OLD), "flow": "question"}, RECENT),
            "valid": (form_state(NOW + timedelta(days=1)), RECENT),
            "valid_aside": ({"paused": form_state(NOW + timedelta(hours=1))}, RECENT),
            "untouched": ({"draft": "công ty nợ lương"}, OLD),
            "empty": ({}, RECENT),
        }
        ids = {}
        for name, (state, at) in states.items():
            ids[name] = (await visitor(session, name)).id
            conversations.put(session, {}, ids[name], state, at)
        await session.commit()
        found = await conversations.due(session, deadlines, NOW, CUTOFF)
        due = {ids["expired"], ids["expired_aside"], ids["untouched"]}
        assert {row.person_id for row in found} == due
        assert len(await conversations.due(session, deadlines, NOW, CUTOFF, limit=2)) == 2
        rows = {row.person_id: row for row in found}
        await session.commit()
    # Written only if nobody changed the row since it was read: here the worker wrote.
    async with sessions() as other:
        known = await conversations.rows(other, [ids["expired_aside"]])
        conversations.put(other, known, ids["expired_aside"], {"flow": "question"}, NOW)
        await other.commit()
    async with sessions() as session:
        assert not await conversations.rewrite(session, rows[ids["expired_aside"]], {}, NOW)
        assert await conversations.rewrite(session, rows[ids["expired"]], {}, NOW)  # deleted
        assert await conversations.rewrite(session, rows[ids["untouched"]], {"a": 1}, NOW)
        await session.commit()
        left = {row.person_id: row.state for row in await session.scalars(select(Conversation))}
    assert ids["expired"] not in left
    assert left[ids["expired_aside"]] == {"flow": "question"}
    assert left[ids["valid"]] == states["valid"][0]
    assert left[ids["untouched"]] == {"a": 1}


async def closed_case(session, union_id: int, status: str, closed_at, person_id=None) -> Case:
    case = await cases.open(
        session, kind="grievance", union_id=union_id, person_id=person_id,
        text="Tổ trưởng quát mắng cả tổ", now=OLD - timedelta(days=400), category="wages",
        contact_sealed=b"sealed contact", reporter_sealed=b"sealed reporter",
        reporter_tag="tag", pin_tag="pin",
    )  # fmt: skip
    case.status, case.closed_at = status, closed_at
    row = evidence.receive(
        session, channel="telegram", reference="file-1", kind="photo", mime="image/jpeg",
        size=10, now=OLD,
    )  # fmt: skip
    await session.flush()
    await evidence.attach(session, [row.id], case.id)
    await evidence.store(session, row.id, mime="image/jpeg", content=b"jpeg", now=OLD)
    return case


async def test_closed_cases_lose_their_personal_data_after_the_cutoff(sessions):
    long_ago = NOW - timedelta(days=366)
    cutoff = NOW - timedelta(days=365)
    async with sessions() as session:
        await unions.import_directory(session, directory.load(SAMPLE_DIRECTORY))
        root = await unions.root(session)
        person = await visitor(session, "worker", channel="telegram")
        resolved = await closed_case(session, root.id, "resolved", long_ago, person.id)
        closed = await closed_case(session, root.id, "closed", long_ago)
        lately = await closed_case(session, root.id, "closed", NOW - timedelta(days=30))
        reopened = await closed_case(session, root.id, "assigned", long_ago)  # open again
        still_open = await closed_case(session, root.id, "new", None)
        await session.commit()
        assert await cases.scrub_closed(session, cutoff, NOW, limit=1) == 1
        assert await cases.scrub_closed(session, cutoff, NOW) == 1
        assert await cases.scrub_closed(session, cutoff, NOW) == 0
        await session.commit()
    async with sessions() as session:
        for case in (resolved, closed):
            scrubbed = await session.get(Case, case.id)
            assert (
                scrubbed.person_id, scrubbed.contact_sealed, scrubbed.reporter_sealed,
                scrubbed.reporter_tag, scrubbed.pin_tag,
            ) == (None, None, None, None, None)  # fmt: skip
            # What statistics and the union's record need stays.
            assert (scrubbed.code, scrubbed.kind, scrubbed.category, scrubbed.union_id) == (
                case.code, "grievance", "wages", root.id,
            )  # fmt: skip
            assert (scrubbed.created_at, scrubbed.closed_at) == (case.created_at, long_ago)
            assert await evidence.for_case(session, case.id) == []
            assert [m.text for m in await cases.thread(session, case.id)] == [
                "Tổ trưởng quát mắng cả tổ"
            ]
            actions = (
                await session.scalars(
                    select(AuditEntry.action).where(AuditEntry.case_id == case.id)
                )
            ).all()
            assert actions == ["case.opened", "case.scrubbed"]
        for case in (lately, reopened, still_open):
            kept = await session.get(Case, case.id)
            assert (kept.contact_sealed, kept.reporter_tag) == (b"sealed contact", "tag")
            assert len(await evidence.for_case(session, case.id)) == 1
    assert await count(sessions, CaseMessage) == 5
    assert await count(sessions, Evidence) == 3


async def test_the_files_of_cases_are_deleted_with_their_bytes(sessions):
    async with sessions() as session:
        await unions.import_directory(session, directory.load(SAMPLE_DIRECTORY))
        root = await unions.root(session)
        first = await closed_case(session, root.id, "closed", OLD)
        second = await closed_case(session, root.id, "closed", OLD)
        loose = evidence.receive(
            session, channel="telegram", reference="file-2", kind="photo", mime=None, size=1,
            now=OLD,
        )  # fmt: skip
        await session.commit()
        assert await evidence.forget_cases(session, [first.id]) == 1
        assert await evidence.forget_cases(session, []) == 0
        await session.commit()
        left = set((await session.scalars(select(Evidence.id))).all())
        assert len(left) == 2 and loose.id in left
        assert len(await evidence.for_case(session, second.id)) == 1
