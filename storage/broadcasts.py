"""Broadcasts and their deliveries: one row per recipient, claimed before it is sent.

A delivery goes pending -> sending (claimed, with a lease) -> sent | failed | unreachable,
or back to pending for a retry; a pending one is skipped when the broadcast is cancelled, or
its person erased their data or stopped receiving its topic (checked as it is claimed). A
claim whose lease ran out belongs to a process that died mid-send: the message may have
gone, so it becomes `uncertain` and is never sent again (at most once per person). On
PostgreSQL claims skip rows another process holds (`FOR UPDATE SKIP LOCKED`); SQLite has one
writer.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    case,
    delete,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import rows_changed
from storage.dialect import insert
from storage.models import (
    Broadcast,
    BroadcastDelivery,
    BroadcastImage,
    Case,
    Person,
    Subscription,
)

# Channels a broadcast can reach: the web chat has no way to reach a visitor who left.
CHANNELS = ("telegram", "zalo")
FINISHED = ("sent", "failed", "unreachable", "uncertain", "skipped")
TABLE = cast(Table, BroadcastDelivery.__table__)


@dataclass(frozen=True, slots=True)
class Filters:
    """Who a broadcast reaches: subscribers of `topic` on `channels`, in `languages`, and,
    when given, linked by a case they filed under their name (never an anonymous one) to
    these unions, wards or workplaces."""

    topic: str
    unions: frozenset[int] | None = None
    wards: frozenset[int] = frozenset()
    workplaces: frozenset[int] = frozenset()
    languages: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset(CHANNELS)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery claimed for sending, with what the channel needs."""

    id: int
    broadcast_id: int
    chat_id: str
    language: str
    attempts: int


def _audience(filters: Filters) -> ColumnElement[bool]:
    """The people `filters` selects, as a condition on Person."""
    conditions: list[ColumnElement[bool]] = [
        Person.channel.in_(sorted(set(filters.channels) & set(CHANNELS))),
        exists().where(Subscription.person_id == Person.id, Subscription.topic == filters.topic),
    ]
    if filters.languages:
        conditions.append(Person.language.in_(sorted(filters.languages)))
    linked: list[ColumnElement[bool]] = []
    if filters.unions is not None:
        ids = sorted(filters.unions)
        linked.append(or_(Case.union_id.in_(ids), Case.origin_union_id.in_(ids)))
    if filters.wards:
        linked.append(Case.ward_id.in_(sorted(filters.wards)))
    if filters.workplaces:
        linked.append(Case.workplace_id.in_(sorted(filters.workplaces)))
    for condition in linked:
        conditions.append(exists().where(Case.person_id == Person.id, condition))
    return and_(*conditions)


async def count(session: AsyncSession, filters: Filters) -> tuple[int, int]:
    """How many people the filters select: (reachable, known unreachable: they left)."""
    rows = await session.execute(
        select(Person.blocked, func.count()).where(_audience(filters)).group_by(Person.blocked)
    )
    counts = {bool(blocked): n for blocked, n in rows}
    return counts.get(False, 0), counts.get(True, 0)


async def add(session: AsyncSession, **fields: Any) -> Broadcast:
    broadcast = Broadcast(**fields)
    session.add(broadcast)
    await session.flush()
    return broadcast


async def get(session: AsyncSession, broadcast_id: int) -> Broadcast | None:
    return await session.get(Broadcast, broadcast_id)


async def add_image(
    session: AsyncSession, broadcast_id: int, content: bytes, size: tuple[int, int]
) -> None:
    """Keep a broadcast's picture (already without its metadata)."""
    width, height = size
    session.add(BroadcastImage(broadcast_id=broadcast_id, content=content, width=width,
                               height=height))  # fmt: skip
    await session.flush()


async def image(session: AsyncSession, broadcast_id: int) -> bytes | None:
    """A broadcast's picture (JPEG), None when it has none."""
    query = select(BroadcastImage.content).where(BroadcastImage.broadcast_id == broadcast_id)
    return cast(bytes | None, await session.scalar(query))


async def image_size(session: AsyncSession, broadcast_id: int) -> tuple[int, int] | None:
    """A broadcast's picture's width and height, without loading it; None: no picture."""
    query = select(BroadcastImage.width, BroadcastImage.height).where(
        BroadcastImage.broadcast_id == broadcast_id
    )
    found = (await session.execute(query)).first()
    return (found[0], found[1]) if found else None


async def listed(
    session: AsyncSession, unions: Collection[int] | None, limit: int = 100
) -> Sequence[Broadcast]:
    """The newest broadcasts of these unions (None: all)."""
    query = select(Broadcast).order_by(Broadcast.id.desc()).limit(limit)
    if unions is not None:
        query = query.where(Broadcast.union_id.in_(sorted(unions)))
    return (await session.scalars(query)).all()


async def move(
    session: AsyncSession, broadcast_id: int, from_: Collection[str], to: str, **values: Any
) -> bool:
    """Change a broadcast's status if it is in one of `from_` (one process wins a race)."""
    result = await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast_id, Broadcast.status.in_(list(from_)))
        .values(status=to, **values)
    )
    return rows_changed(result) == 1


async def due(session: AsyncSession, now: datetime) -> Sequence[int]:
    """Scheduled broadcasts whose time has come."""
    query = select(Broadcast.id).where(Broadcast.status == "scheduled", Broadcast.send_at <= now)
    return (await session.scalars(query.order_by(Broadcast.id))).all()


async def start(session: AsyncSession, broadcast_id: int, filters: Filters, now: datetime) -> int:
    """Fix a due broadcast's recipients (one row each; those who left, already unreachable)
    and set it sending; how many. 0 if another process started it first."""
    if not await move(session, broadcast_id, ["scheduled"], "sending", started_at=now):
        return 0
    chosen = select(
        literal(broadcast_id),
        Person.id,
        Person.channel,
        case((Person.blocked, literal("unreachable")), else_=literal("pending")),
        case((Person.blocked, literal("left")), else_=null()),
        literal(0),
    ).where(_audience(filters))
    columns = ["broadcast_id", "person_id", "channel", "status", "reason", "attempts"]
    await session.execute(
        insert(session, TABLE).from_select(columns, chosen).on_conflict_do_nothing()
    )
    total = await session.scalar(
        select(func.count()).where(BroadcastDelivery.broadcast_id == broadcast_id)
    )
    await session.execute(
        update(Broadcast).where(Broadcast.id == broadcast_id).values(total=total or 0)
    )
    return int(total or 0)


def _due(channel: str, now: datetime) -> Select[int, bool]:
    """Due deliveries of sending broadcasts on a channel, oldest first, each with whether
    its person has stopped receiving the broadcast's topic since it started."""
    stopped = and_(
        BroadcastDelivery.person_id.is_not(None),
        ~exists().where(
            Subscription.person_id == BroadcastDelivery.person_id,
            Subscription.topic == Broadcast.topic,
        ),
    )
    return (
        select(BroadcastDelivery.id, stopped.label("stopped"))
        .join(Broadcast, Broadcast.id == BroadcastDelivery.broadcast_id)
        .where(
            BroadcastDelivery.channel == channel,
            BroadcastDelivery.status == "pending",
            Broadcast.status == "sending",
            or_(
                BroadcastDelivery.next_attempt_at.is_(None),
                BroadcastDelivery.next_attempt_at <= now,
            ),
        )
        .order_by(BroadcastDelivery.id)
    )


async def _pick(session: AsyncSession, channel: str, limit: int, now: datetime) -> list[int]:
    """Lock up to `limit` due deliveries to send; those whose person stopped receiving the
    broadcast's topic are skipped for good ("stopped") and others taken in their place."""
    # Stopping works at once, for a broadcast under way too: whether the person still
    # receives the topic is read here, as each row is claimed, rather than by marking their
    # rows when they stop. So it holds however a subscription ends (/dung, a stop word,
    # one topic turned off, erasure, anything added later), whichever process or
    # transaction ended it, and for rows that waited for a retry or a paused broadcast;
    # who signs up again before their turn gets it. Only a row already claimed (a batch
    # in flight, gone within a second or so) can still go.
    while True:
        picked = _due(channel, now).limit(limit).with_for_update(skip_locked=True, of=TABLE)
        rows = (await session.execute(picked)).all()
        if not rows:
            return []
        stopped = [id_ for id_, gone in rows if gone]
        await settle(session, stopped, "skipped", now, reason="stopped", counted=False)
        ids = [id_ for id_, gone in rows if not gone]
        if ids:  # else all of them had stopped: the next ones
            return ids


async def claim(
    session: AsyncSession,
    channel: str,
    limit: int,
    *,
    owner: str,
    now: datetime,
    lease: timedelta,
) -> list[Claimed]:
    """Claim up to `limit` due deliveries of sending broadcasts on a channel, oldest first;
    the caller commits before sending. Rows another process holds are skipped, and so are,
    for good, those of people who stopped receiving the topic or erased their data since
    the start."""
    ids = await _pick(session, channel, limit, now)
    if not ids:
        return []
    await session.execute(
        update(BroadcastDelivery)
        .where(BroadcastDelivery.id.in_(ids))
        .values(status="sending", claimed_by=owner, claimed_until=now + lease)
    )
    rows = await session.execute(
        select(
            BroadcastDelivery.id,
            BroadcastDelivery.broadcast_id,
            Person.channel_user_id,
            Person.language,
            BroadcastDelivery.attempts,
        )
        .join(Person, Person.id == BroadcastDelivery.person_id)
        .where(BroadcastDelivery.id.in_(ids))
        .order_by(BroadcastDelivery.id)
    )
    found = [Claimed(*row) for row in rows]
    # Someone erased between the start and now: nobody to send to.
    gone = set(ids) - {c.id for c in found}
    if gone:
        await settle(session, sorted(gone), "skipped", now, reason="erased")
    return found


async def settle(
    session: AsyncSession,
    ids: Sequence[int],
    status: str,
    now: datetime,
    *,
    reason: str | None = None,
    retry_at: datetime | None = None,
    counted: bool = True,
) -> None:
    """Record how claimed deliveries went: a final status, or "pending" again to be retried
    at `retry_at` (`counted`: the try counts towards giving up; a rate limit does not)."""
    if not ids:
        return
    values: dict[str, Any] = {"status": status, "claimed_by": None, "claimed_until": None}
    if status == "sent":
        values["sent_at"] = now
    if reason is not None:
        values["reason"] = reason[:60]
    if status == "pending":
        values["next_attempt_at"] = retry_at
    if counted and status != "sent":
        values["attempts"] = BroadcastDelivery.attempts + 1
    await session.execute(
        update(BroadcastDelivery).where(BroadcastDelivery.id.in_(list(ids))).values(**values)
    )


async def attempts(session: AsyncSession, ids: Sequence[int]) -> dict[int, int]:
    """How many counted tries each delivery has had."""
    rows = await session.execute(
        select(BroadcastDelivery.id, BroadcastDelivery.attempts).where(
            BroadcastDelivery.id.in_(list(ids))
        )
    )
    return {id_: n for id_, n in rows}


async def recover(session: AsyncSession, now: datetime, *, other_than: str | None = None) -> int:
    """Claims of a process that died mid-send (lease over, or, with one process per
    database, any claim not `other_than`'s): the message may have gone, so it is never sent
    again; recorded as uncertain. How many."""
    stale = BroadcastDelivery.claimed_until < now
    if other_than is not None:
        stale = or_(stale, BroadcastDelivery.claimed_by != other_than)
    result = await session.execute(
        update(BroadcastDelivery)
        .where(BroadcastDelivery.status == "sending", stale)
        .values(status="uncertain", reason="interrupted", claimed_by=None, claimed_until=None)
    )
    return rows_changed(result)


async def finish(session: AsyncSession, now: datetime) -> list[int]:
    """Sending broadcasts with nobody left to send to are done; their ids."""
    open_ = exists().where(
        BroadcastDelivery.broadcast_id == Broadcast.id,
        BroadcastDelivery.status.in_(["pending", "sending"]),
    )
    ids = list(
        await session.scalars(select(Broadcast.id).where(Broadcast.status == "sending", ~open_))
    )
    for broadcast_id in ids:
        await move(session, broadcast_id, ["sending"], "done", finished_at=now)
    return ids


async def cancel(session: AsyncSession, broadcast_id: int, now: datetime) -> bool:
    """Stop a broadcast for good: what was not sent yet never will be."""
    if not await move(
        session,
        broadcast_id,
        ["awaiting_approval", "scheduled", "sending", "paused"],
        "cancelled",
        finished_at=now,
    ):
        return False
    await session.execute(
        update(BroadcastDelivery)
        .where(
            BroadcastDelivery.broadcast_id == broadcast_id,
            BroadcastDelivery.status == "pending",
        )
        .values(status="skipped", reason="cancelled")
    )
    return True


async def tally(session: AsyncSession, broadcast_id: int) -> dict[tuple[str, str | None], int]:
    """How many deliveries are in each (status, reason); from the broadcast's summary once
    the janitor has deleted its rows."""
    broadcast = await session.get(Broadcast, broadcast_id)
    if broadcast is not None and broadcast.summary:
        return {_unkey(key): int(n) for key, n in broadcast.summary.items()}
    rows = await session.execute(
        select(BroadcastDelivery.status, BroadcastDelivery.reason, func.count())
        .where(BroadcastDelivery.broadcast_id == broadcast_id)
        .group_by(BroadcastDelivery.status, BroadcastDelivery.reason)
    )
    return {(status, reason): n for status, reason, n in rows}


async def sent_since(session: AsyncSession, broadcast_id: int, since: datetime) -> int:
    """Deliveries of a broadcast sent at or after `since` (its current rate)."""
    found = await session.scalar(
        select(func.count()).where(
            BroadcastDelivery.broadcast_id == broadcast_id,
            BroadcastDelivery.status == "sent",
            BroadcastDelivery.sent_at >= since,
        )
    )
    return int(found or 0)


async def sent_counts(session: AsyncSession, broadcast_ids: Collection[int]) -> dict[int, int]:
    """How many deliveries of each of these broadcasts were sent (the dashboard's list)."""
    if not broadcast_ids:
        return {}
    rows = await session.execute(
        select(BroadcastDelivery.broadcast_id, func.count())
        .where(
            BroadcastDelivery.broadcast_id.in_(sorted(broadcast_ids)),
            BroadcastDelivery.status == "sent",
        )
        .group_by(BroadcastDelivery.broadcast_id)
    )
    found = {broadcast_id: n for broadcast_id, n in rows}
    # Those whose rows the janitor deleted keep their counts in the summary.
    summarised = await session.execute(
        select(Broadcast.id, Broadcast.summary).where(Broadcast.id.in_(sorted(broadcast_ids)))
    )
    for broadcast_id, summary in summarised:
        if summary:
            found[broadcast_id] = int(summary.get("sent", 0))
    return found


# Deliveries that may have reached the person: only they can answer a poll.
REACHED = ("sending", "sent", "uncertain")


async def reached(session: AsyncSession, broadcast_id: int, person_id: int) -> bool:
    """Whether this broadcast went (or may have gone) to this person."""
    found = await session.scalar(
        select(BroadcastDelivery.id).where(
            BroadcastDelivery.broadcast_id == broadcast_id,
            BroadcastDelivery.person_id == person_id,
            BroadcastDelivery.status.in_(REACHED),
        )
    )
    return found is not None


async def forget_person(session: AsyncSession, person_id: int) -> None:
    """Erasure: the person's subscriptions go; their deliveries stay counted, unlinked, and
    what was still to be sent to them is skipped."""
    await session.execute(delete(Subscription).where(Subscription.person_id == person_id))
    await session.execute(
        update(BroadcastDelivery)
        .where(BroadcastDelivery.person_id == person_id, BroadcastDelivery.status == "pending")
        .values(status="skipped", reason="erased")
    )
    await session.execute(
        update(BroadcastDelivery)
        .where(BroadcastDelivery.person_id == person_id)
        .values(person_id=None)
    )


def _key(status: str, reason: str | None) -> str:
    return f"{status}:{reason}" if reason else status


def _unkey(key: str) -> tuple[str, str | None]:
    status, _sep, reason = key.partition(":")
    return status, reason or None


async def prune(
    session: AsyncSession,
    before: datetime,
    limit: int = 5,
    *,
    polls_before: datetime | None = None,
) -> int:
    """Delete the delivery rows of at most `limit` broadcasts finished before `before`,
    their counts kept in the broadcast's summary (who got it is not needed any more); how
    many rows went. A poll's rows say who may answer it: they stay until `polls_before`
    too."""
    polls_before = before if polls_before is None else min(before, polls_before)
    finished = select(Broadcast).where(
        Broadcast.status.in_(["done", "cancelled"]),
        Broadcast.finished_at < before,
        or_(Broadcast.poll_options.is_(None), Broadcast.finished_at < polls_before),
        exists().where(BroadcastDelivery.broadcast_id == Broadcast.id),
    )
    deleted = 0
    for broadcast in (await session.scalars(finished.order_by(Broadcast.id).limit(limit))).all():
        counts = await tally(session, broadcast.id)
        if any(status in ("pending", "sending") for status, _reason in counts):
            continue  # a send still in flight when it was cancelled: next time
        broadcast.summary = {_key(status, reason): n for (status, reason), n in counts.items()}
        result = await session.execute(
            delete(BroadcastDelivery).where(BroadcastDelivery.broadcast_id == broadcast.id)
        )
        deleted += rows_changed(result)
    return deleted
