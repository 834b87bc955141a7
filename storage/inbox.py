"""The durable inbox: updates stored before they are acknowledged, processed exactly once.

The hot paths (store, claim, finish) use Core statements on the table: one statement per
batch of updates, not one ORM object per update.

Each update carries its chat: a hash of its channel and sender. On PostgreSQL, where several
processes share the inbox, `claim` takes a transaction-level advisory lock per chat before
reading that chat's pending updates, so one chat is worked on by one transaction at a time,
oldest update first, while other chats go to other processes. The lock ends with the
transaction (commit, rollback, or the connection dying with its process), which also makes it
safe behind PgBouncer in transaction mode. On SQLite one process owns the database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Integer, Numeric, Table, delete, func, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession

from storage import leases
from storage.db import rows_changed
from storage.dialect import Executor, backend, insert
from storage.localtime import start_of_day
from storage.models import InboxItem

MAX_ATTEMPTS = 3
# Rows deleted by one prune (bot/retention.py): the next run takes the rest.
PRUNE_BATCH = 1000
# A declarative class with a __tablename__ maps a Table; DeclarativeBase types __table__ as
# any FromClause only because a class may also map a join or a subquery.
TABLE = cast(Table, InboxItem.__table__)


@dataclass(frozen=True, slots=True)
class NewUpdate:
    channel: str
    external_id: str
    payload: dict[str, Any]
    # Who sent it, in the channel's terms (None: nobody's in particular; ordered alone).
    sender: str | None = None


def chat_of(update: NewUpdate) -> str:
    """The ordering key: one sender's updates share it. A hash, so the table does not name the
    sender (the payload does until it is processed, and is then cleared with the key)."""
    if update.sender is not None:
        who = f"{update.channel}:{update.sender}"
    else:
        who = f"{update.channel}#{update.external_id}"
    return hashlib.sha256(who.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Pending:
    """An update waiting to be processed."""

    id: int
    channel: str
    external_id: str
    payload: dict[str, Any]


def without_nul(value: Any) -> Any:
    """The payload with NUL characters removed from every string: PostgreSQL's text and
    JSONB cannot hold them, and one such update must not stop the others being stored."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    return value


async def store(executor: Executor, updates: Sequence[NewUpdate], now: datetime) -> None:
    """Insert updates not seen before; a redelivered (channel, external_id) is skipped.

    The caller commits, and only then acknowledges.
    """
    if not updates:
        return
    await executor.execute(
        _storing(backend(executor)),
        [
            {
                "channel": u.channel,
                "external_id": u.external_id,
                "payload": u.payload,
                "status": "pending",
                "attempts": 0,
                "received_at": now,
                "chat": chat_of(u),
            }
            for u in updates
        ],
    )


@cache
def _storing(name: str) -> Any:
    """The insert of updates, built once per backend (it runs for every webhook call)."""
    return insert(name, TABLE).on_conflict_do_nothing(index_elements=["channel", "external_id"])


async def claim(
    session: AsyncSession, channels: Sequence[str], limit: int = 100, *, only: int | None = None
) -> list[Pending]:
    """Pending updates of these channels to process in the caller's transaction, in arrival
    order: on PostgreSQL only of chats no other transaction is working on, and for each such
    chat from its oldest pending update. With `only`, that update if it is its chat's oldest."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if only is not None:
        return await _claim_one(session, channels, only, postgres)
    wanted = [TABLE.c.status == "pending", TABLE.c.channel.in_(channels)]
    claimed = _selected().where(*wanted).order_by(TABLE.c.id).limit(limit)
    if postgres:
        locked = TABLE.c.chat.in_(_locked_chats(wanted, limit))
        claimed = claimed.where(locked).with_for_update(of=TABLE)
    rows = await session.execute(claimed)
    return [Pending(r.id, r.channel, r.external_id, r.payload or {}) for r in rows]


def _selected() -> Any:
    return select(TABLE.c.id, TABLE.c.channel, TABLE.c.external_id, TABLE.c.payload)


def _locked_chats(wanted: list[Any], limit: int) -> Any:
    """The chats with pending updates, oldest first, whose lock this transaction got (a chat
    another transaction holds is skipped, not waited for), as a subquery of the claim: its
    share of them (`_share`), so the other processes find chats to work on too.

    Claimed in one statement with the rows: a round trip less per batch, where each one
    waits its turn in a busy process. Its snapshot is taken before it gets the locks, so an
    update that the transaction which held a chat's lock committed meanwhile is still pending
    in it: FOR UPDATE on the claimed rows sees to that (a row changed by a transaction
    committed after the snapshot is read again as it is now, and dropped if not pending)."""
    # (Every pending update has its chat: the migration that added chats, 0014, gave each
    # one waiting then a chat of its own.)
    heads = (
        select(TABLE.c.chat)
        .where(*wanted)
        .group_by(TABLE.c.chat)
        .order_by(func.min(TABLE.c.id))
        .limit(limit)
        .cte("heads")
    )
    # The chats are tried in order and the locking stops at the share: LIMIT over the
    # filter pulls one chat at a time. (A CTE with a volatile function is evaluated once:
    # each lock is tried once.)
    locked = (
        select(heads.c.chat)
        .where(func.pg_try_advisory_xact_lock(func.hashtextextended(heads.c.chat, 0)))
        .limit(_share(heads))
    )
    return locked.cte("locked").select()


def _share(heads: Any) -> Any:
    """How many of the waiting chats one claim takes: all of them over the processes alive,
    rounded up (one process: all; its own liveness lease may be a moment old). Taking all
    would leave another process idle while this one works through them."""
    # The database's clock: the liveness leases are written by the wall clock, too.
    living = leases.living(func.now()).subquery()
    alive = func.greatest(1, select(func.count()).select_from(living).scalar_subquery())
    share = func.ceil(func.count() / sql_cast(alive, Numeric))
    return select(sql_cast(share, Integer)).select_from(heads).scalar_subquery()


async def _claim_one(
    session: AsyncSession, channels: Sequence[str], item_id: int, postgres: bool
) -> list[Pending]:
    pending = [TABLE.c.status == "pending", TABLE.c.channel.in_(channels)]
    key = await session.scalar(select(TABLE.c.chat).where(TABLE.c.id == item_id, *pending))
    if key is None:
        return []
    if postgres:
        lock = func.pg_try_advisory_xact_lock(func.hashtextextended(key, 0))
        if not await session.scalar(select(lock)):
            return []
    earlier = select(TABLE.c.id).where(*pending, TABLE.c.chat == key, TABLE.c.id < item_id).exists()
    rows = await session.execute(_selected().where(TABLE.c.id == item_id, *pending, ~earlier))
    return [Pending(r.id, r.channel, r.external_id, r.payload or {}) for r in rows]


async def finish(
    session: AsyncSession, ids: Sequence[int], now: datetime, status: str = "done"
) -> None:
    """Mark updates processed (or ignored) in the caller's transaction and drop their
    payloads: after processing only what deduplication needs stays (no names, no text), and
    its times only to the day (an exact time could be matched to a case's)."""
    if ids:
        day = start_of_day(now)
        await session.execute(
            update(TABLE)
            .where(TABLE.c.id.in_(list(ids)))
            .values(status=status, received_at=day, processed_at=day, payload=None, chat=None)
        )


async def record_failure(session: AsyncSession, item_id: int, error: str, now: datetime) -> bool:
    """Count a failed attempt; after MAX_ATTEMPTS the update is given up. Returns True then."""
    item = await session.get(InboxItem, item_id)
    if item is None:
        return False
    item.attempts += 1
    item.error = error[:200]
    if item.attempts >= MAX_ATTEMPTS:
        item.status = "failed"
        item.received_at = item.processed_at = start_of_day(now)
        item.payload = None
        item.chat = None
        return True
    return False


async def prune(session: AsyncSession, before: datetime, limit: int = PRUNE_BATCH) -> int:
    """Delete at most `limit` updates handled (done, ignored or given up) before `before`:
    once a channel can no longer deliver them again, deduplication needs them no more.
    Pending updates stay, however old. How many went."""
    handled = (
        select(TABLE.c.id)
        .where(TABLE.c.status != "pending", TABLE.c.processed_at < before)
        .order_by(TABLE.c.id)
        .limit(limit)
    )
    result = await session.execute(delete(TABLE).where(TABLE.c.id.in_(handled)))
    return rows_changed(result)
