"""Questions the FAQ search could not answer: grouped by theme and counted, for officers to
turn into content."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from storage.db import later
from storage.dialect import insert
from storage.models import UnansweredQuestion

MAX_TEXT = 500
MAX_KEY = 200
# Phone numbers, ID card and account numbers: six or more digits, perhaps split by spaces,
# dots or dashes. Officers need the question, never who asked it.
_LONG_NUMBER = re.compile(r"\+?\d(?:[\s.\-]?\d){5,}")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def mask(text: str) -> str:
    """The text with long numbers and e-mail addresses replaced by '***'."""
    return _EMAIL.sub("***", _LONG_NUMBER.sub("***", text))


async def record(
    session: AsyncSession,
    *,
    language: str,
    key: str,
    text: str,
    suggestions: Sequence[str],
    now: datetime,
    asker: str,
) -> None:
    """Count one more asking of this theme (key), keeping the latest wording. `asker` is a
    keyed hash of the person, so that they can erase it later."""
    key = key[:MAX_KEY]
    if not key:
        return
    wording = mask(text.strip())[:MAX_TEXT]
    stmt = insert(session, UnansweredQuestion).values(
        language=language,
        key=key,
        text=wording,
        suggestions=list(suggestions),
        count=1,
        askers=[asker],
        text_by=asker,
        first_asked_at=now,
        last_asked_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["language", "key"],
        set_={
            "count": UnansweredQuestion.count + 1,
            "text": wording,
            "text_by": asker,
            "suggestions": list(suggestions),
            "last_asked_at": now,
        },
    ).returning(UnansweredQuestion.id)

    def write(sync: Session) -> None:
        row = sync.get(UnansweredQuestion, sync.execute(stmt).scalar_one())
        if row is not None and asker not in row.askers:
            row.askers = [*row.askers, asker]

    # Written as the transaction commits: many people ask the same theme (`db.later`).
    later(session, ("unanswered_questions", language, key), write)


async def forget(session: AsyncSession, asker: str) -> int:
    """Erase what this person asked: their count comes off each theme; a theme whose kept
    wording is theirs, or that nobody else asked, goes. Returns how many askings went."""
    # JSON lists are not searchable alike on both databases; this runs rarely.
    rows = (await session.scalars(select(UnansweredQuestion))).all()
    erased = 0
    for row in rows:
        if asker not in row.askers:
            continue
        erased += 1
        others = [a for a in row.askers if a != asker]
        if not others or row.text_by == asker:
            await session.delete(row)
        else:
            row.askers = others
            row.count = max(1, row.count - 1)
    return erased


async def most_asked(session: AsyncSession, limit: int = 50) -> Sequence[UnansweredQuestion]:
    """The themes asked most often, most recent first among equals."""
    stmt = (
        select(UnansweredQuestion)
        .order_by(UnansweredQuestion.count.desc(), UnansweredQuestion.last_asked_at.desc())
        .limit(limit)
    )
    return (await session.scalars(stmt)).all()
