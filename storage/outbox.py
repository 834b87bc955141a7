"""The outbox: replies written with the effects that caused them, sent after the commit.

A send that fails is retried with backoff; a crash between sending and marking can repeat
a send, never lose one.

Each row has an owner, the process that sends it: the one that wrote it, until that process
is no longer alive (storage/leases.py) and another takes the row over (`claim_due`). One
chat's messages go out in the order they were written, across processes: a row waits while
an earlier one to the same chat is still on its way from another process (`others_first`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from functools import cache, partial
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, delete, func, insert, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage import dialect, leases
from storage.db import rows_changed
from storage.dialect import Executor
from storage.localtime import start_of_day
from storage.models import OutboxItem

# A message the messenger keeps failing (not refusing) is tried at least MAX_ATTEMPTS times
# and until TRIED_FOR has passed since the start of the day it was written (a row keeps only
# the day): between one and two days of tries, ten minutes apart at most. A messenger down for
# hours must not lose a worker's reply; a message failing for days is given up.
MAX_ATTEMPTS = 8
TRIED_FOR = timedelta(days=2)
# Messages one claim of the sender's scan takes at most.
CLAIM_LIMIT = 500
# Rows deleted by one prune (bot/retention.py): the next run takes the rest.
PRUNE_BATCH = 1000
# A declarative class with a __tablename__ maps a Table; DeclarativeBase types __table__ as
# any FromClause only because a class may also map a join or a subquery.
TABLE = cast(Table, OutboxItem.__table__)


def message(
    *,
    channel: str,
    chat_id: str,
    sealed: bytes,
    person_id: int | None,
    now: datetime,
    owner: str | None = None,
) -> dict[str, Any]:
    """The row for one message to send: its text and buttons only sealed (bot/outbox.py), and
    the day it was written, not the time (a time could be matched to a case's)."""
    return {
        "person_id": person_id,
        "channel": channel,
        "chat_id": chat_id,
        "text": "",
        "buttons": [],
        "sealed": sealed,
        "created_at": start_of_day(now),
        "attempts": 0,
        "failed": False,
        "owner": owner,
    }


async def add(session: AsyncSession, messages: Sequence[dict[str, Any]]) -> list[int]:
    """Insert messages in one statement, in the caller's transaction; their ids in order."""
    if not messages:
        return []
    result = await session.execute(
        insert(TABLE).returning(TABLE.c.id, sort_by_parameter_order=True), list(messages)
    )
    return list(result.scalars())


# The wait after a failed try: twice the unit after the first, doubling, at most the cap.
BACKOFF_UNIT_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 600.0


def backoff(attempts: int) -> timedelta:
    """2, 4, 8 … seconds, at most ten minutes."""
    return timedelta(seconds=min(BACKOFF_UNIT_SECONDS * 2**attempts, BACKOFF_CAP_SECONDS))


async def due(
    session: AsyncSession,
    channels: Sequence[str],
    now: datetime,
    limit: int = 200,
    exclude: Sequence[int] = (),
) -> Sequence[OutboxItem]:
    """Unsent messages whose time has come, oldest first."""
    stmt = (
        select(OutboxItem)
        .where(
            OutboxItem.sent_at.is_(None),
            OutboxItem.failed.is_(False),
            OutboxItem.held.is_(False),
            OutboxItem.channel.in_(channels),
            or_(OutboxItem.next_attempt_at.is_(None), OutboxItem.next_attempt_at <= now),
        )
        .order_by(OutboxItem.id)
        .limit(limit)
    )
    if exclude:
        stmt = stmt.where(OutboxItem.id.not_in(exclude))
    return (await session.scalars(stmt)).all()


def _unsent(row: Any) -> Any:
    """Still to be sent: not sent, not given up, not held for the person to write again."""
    return and_(row.sent_at.is_(None), row.failed.is_(False), row.held.is_(False))


def _on_its_way(row: Any, now: datetime) -> Any:
    """Unsent and due: being sent now or about to be (not given up, held or waiting out a
    retry's backoff: those do not hold back the messages after them)."""
    return and_(
        row.sent_at.is_(None),
        row.failed.is_(False),
        row.held.is_(False),
        or_(row.next_attempt_at.is_(None), row.next_attempt_at <= now),
    )


def _takeable(row: Any, *, owner: str, now: datetime, take_over: bool) -> Any:
    """Whether `owner` may send this row: its own; with `take_over`, also nobody's and those
    of processes no longer alive."""
    if not take_over:
        return row.owner == owner
    return or_(row.owner.is_(None), row.owner == owner, row.owner.not_in(leases.living(now)))


def _preceded(takeable: Callable[[Any], Any], now: datetime) -> Any:
    """Whether an earlier unsent message to the same chat holds a row back: one of another
    process, or one waiting out a retry's backoff (a chat's messages go in order even when the
    messenger fails for a while). Those this claim takes over go out before it, in order."""
    earlier = aliased(OutboxItem)
    return (
        select(earlier.id)
        .where(
            earlier.channel == OutboxItem.channel,
            earlier.chat_id == OutboxItem.chat_id,
            earlier.id < OutboxItem.id,
            _unsent(earlier),
            or_(~takeable(earlier), earlier.next_attempt_at > now),
        )
        .exists()
    )


async def claim_due(
    session: AsyncSession,
    channels: Sequence[str],
    now: datetime,
    owner: str,
    *,
    take_over: bool = True,
    exclude: Collection[int] = (),
    limit: int = CLAIM_LIMIT,
) -> list[OutboxItem]:
    """Take the due messages this process may send, oldest first: its own, and, when it
    `take_over`s (one process at a time does: bot/leadership.py), those of processes no
    longer alive and those nobody owns (after a crash they may have gone already: a repeat,
    never a loss); none that an earlier unsent message to the same chat precedes when it is
    another process's or waits for a retry, nor those in `exclude` (in flight already). The
    caller commits."""

    takeable = partial(_takeable, owner=owner, now=now, take_over=take_over)
    preceded = _preceded(takeable, now)
    mine = takeable(OutboxItem)
    if exclude:
        mine = and_(mine, OutboxItem.id.not_in(list(exclude)))
    candidates = (
        select(OutboxItem.id)
        .where(_on_its_way(OutboxItem, now), OutboxItem.channel.in_(channels), mine, ~preceded)
        .order_by(OutboxItem.id)
        .limit(limit)
        # A scan still running as the duties change hands: each row goes to one of them.
        .with_for_update(skip_locked=True)
    )
    taken = await session.scalars(
        update(OutboxItem)
        .where(OutboxItem.id.in_(candidates))
        .values(owner=owner)
        .returning(OutboxItem)
        .execution_options(synchronize_session=False)
    )
    return sorted(taken.all(), key=lambda row: row.id)


async def others_first(
    session: AsyncSession, chats: Collection[tuple[str, str]], owner: str, now: datetime
) -> dict[tuple[str, str], int]:
    """For each of these chats that another process still has a message to send to (on its
    way, or waiting for a retry), the id of the first such message: this process's messages
    to it after that id wait."""
    if not chats:
        return {}
    rows = await session.execute(
        select(OutboxItem.channel, OutboxItem.chat_id, func.min(OutboxItem.id))
        .where(
            tuple_(OutboxItem.channel, OutboxItem.chat_id).in_(list(chats)),
            _unsent(OutboxItem),
            or_(OutboxItem.owner.is_(None), OutboxItem.owner != owner),
        )
        .group_by(OutboxItem.channel, OutboxItem.chat_id)
    )
    return {(channel, chat): first for channel, chat, first in rows}


async def for_chat(
    session: AsyncSession, channel: str, chat_id: str, after: int = 0, limit: int = 50
) -> Sequence[OutboxItem]:
    """Messages written to one chat with ids above `after`, oldest first, sent or not (the
    web chat reads its replies here, so they outlive the process that wrote them)."""
    stmt = (
        select(OutboxItem)
        .where(OutboxItem.channel == channel, OutboxItem.chat_id == chat_id, OutboxItem.id > after)
        .order_by(OutboxItem.id)
        .limit(limit)
    )
    return (await session.scalars(stmt)).all()


async def mark_sent(
    executor: Executor, ids: Sequence[int], now: datetime, forget: Sequence[int] = ()
) -> None:
    """Mark messages sent (the day only). Those in `forget` also lose their text and whom
    they went to: once delivered, the messenger holds them, not us. One statement (two when
    some are kept and some forgotten), so a caller in autocommit (`Database.statement`)
    marks them in one round trip."""
    gone = set(forget)
    kept = [i for i in ids if i not in gone]
    day = start_of_day(now)
    name = dialect.backend(executor)
    if kept:
        await executor.execute(_marking(name, forget=False), {"ids": kept, "day": day})
    if forget:
        await executor.execute(_marking(name, forget=True), {"ids": list(forget), "day": day})


@cache
def _marking(name: str, *, forget: bool) -> Any:
    """The sent mark's statement, built once per backend: each send is marked on its own
    the moment it went, and building the statement anew cost more than running it."""
    # A mark lost with the database server means the message is sent again, nothing worse;
    # not waiting for the disk shortens the moment a killed process's sends are unmarked
    # (each of them a repeat for the process that takes over).
    quick = dialect.without_waiting_for_disk(name)
    return (
        update(TABLE)
        .where(dialect.one_of_given(name, TABLE.c.id, "ids"), quick)
        .values(sent_at=bindparam("day"), **(BLANK if forget else {}))
    )


# What a delivered (or given-up) message keeps: nothing that says what it said or to whom.
BLANK: dict[str, Any] = {
    "chat_id": "",
    "person_id": None,
    "text": "",
    "buttons": [],
    "sealed": None,
}


async def rotate(session: AsyncSession, reseal: Callable[[bytes], bytes]) -> int:
    """Re-seal the messages still held sealed with the current key; how many."""
    rows = (await session.scalars(select(OutboxItem).where(OutboxItem.sealed.is_not(None)))).all()
    for row in rows:
        row.sealed = reseal(row.sealed or b"")
    return len(rows)


async def record_failure(
    session: AsyncSession,
    item_id: int,
    error: str,
    now: datetime,
    *,
    permanent: bool,
    retry_after: float | None = None,
    counted: bool = True,
) -> bool:
    """Count a failed send and schedule the retry (when the messenger said how long to wait,
    that long). Not `counted`: the channel as a whole is paused (its tokens need an admin),
    so the try does not count towards giving up. Returns True when given up: refused for
    good (`permanent`), or failing still after MAX_ATTEMPTS tries and TRIED_FOR."""
    item = await session.get(OutboxItem, item_id)
    if item is None:
        return True
    item.attempts += 1 if counted else 0
    item.last_error = error[:200]
    tried_long = item.created_at + TRIED_FOR <= now
    item.failed = permanent or (item.attempts >= MAX_ATTEMPTS and tried_long)
    wait = timedelta(seconds=retry_after) if retry_after is not None else backoff(item.attempts)
    item.next_attempt_at = now + wait
    if item.failed:
        for column, value in BLANK.items():
            setattr(item, column, value)
    return item.failed


async def hold(session: AsyncSession, item_id: int, reason: str) -> None:
    """Keep a message unsent until its person writes again (`release`); not a failed try."""
    await session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == item_id)
        .values(held=True, last_error=reason[:200], next_attempt_at=None)
    )


async def release(session: AsyncSession, channel: str, chat_id: str) -> int:
    """The person wrote again: what was held for their chat is due now; how many."""
    result = await session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.channel == channel,
            OutboxItem.chat_id == chat_id,
            OutboxItem.held.is_(True),
            OutboxItem.sent_at.is_(None),
        )
        .values(held=False, next_attempt_at=None)
    )
    return rows_changed(result)


async def forget_person(session: AsyncSession, person_id: int) -> int:
    """Blank what was sent (or is waiting to be sent) to a person, and never send what is
    still waiting; how many rows. Blanked, not deleted: a deleted last row would let SQLite
    give its id to the next message while the sender still tracks the old one."""
    result = await session.execute(
        update(OutboxItem)
        .where(OutboxItem.person_id == person_id)
        .values(failed=OutboxItem.sent_at.is_(None), **BLANK)
    )
    return rows_changed(result)


async def forget_chat(session: AsyncSession, channel: str, chat_id: str) -> int:
    """Delete every message written to one chat, sent or not; how many rows went."""
    result = await session.execute(
        delete(OutboxItem).where(OutboxItem.channel == channel, OutboxItem.chat_id == chat_id)
    )
    return rows_changed(result)


async def prune(
    session: AsyncSession,
    before: datetime,
    *,
    channels: Collection[str] | None = None,
    other_than: Collection[str] = (),
    limit: int = PRUNE_BATCH,
) -> int:
    """Delete at most `limit` messages sent before `before` (or given up, if written before
    it), on these channels or on all but `other_than`. Messages still to be sent stay. How
    many went."""
    done = or_(
        TABLE.c.sent_at < before,
        and_(TABLE.c.sent_at.is_(None), TABLE.c.failed.is_(True), TABLE.c.created_at < before),
    )
    oldest = select(TABLE.c.id).where(done).order_by(TABLE.c.id).limit(limit)
    if channels is not None:
        oldest = oldest.where(TABLE.c.channel.in_(list(channels)))
    if other_than:
        oldest = oldest.where(TABLE.c.channel.not_in(list(other_than)))
    result = await session.execute(delete(TABLE).where(TABLE.c.id.in_(oldest)))
    return rows_changed(result)
