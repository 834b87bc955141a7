"""Quick polls: a broadcast with answers as buttons (bot/services/broadcasts.py composes it,
bot/broadcaster.py delivers it), the answers of the workers it reached, and its results.

An answer is kept once per person and poll, under a keyed hash of the two (`respondent`), so
the table never holds who answered; beside it, the segment facts the worker already gave
the bot in a request filed under their name (never an anonymous one). A changed answer
replaces the old one. Answers are taken from the workers the poll went to, for ANSWER_DAYS
after it started. The results are counts by answer and, per segment, by segment and answer,
always under the small-cell rule (storage.statistics.suppress): they go beyond the cases an
officer can open.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import Services, labels
from bot.services.crypto import Vault
from bot.services.i18n import N_, _
from handlers.payloads import Vote
from handlers.types import Button, Keyboard
from storage import broadcasts, polls
from storage.models import Broadcast, Person
from storage.polls import SEGMENTS, Segment
from storage.statistics import THRESHOLD, Shown, suppress

# How long after a poll started its answers are taken.
ANSWER_DAYS = 30
# A poll takes answers once it has started going out, until it is cancelled.
OPEN = ("sending", "paused", "done")
# The bucket of those whose segment the bot does not know.
UNKNOWN = N_("Not known")
# The kinds of work: the membership form's contract answers.
WORK = labels.CONTRACT_LABELS


class NotAnswerable(ValueError):
    """Not an answer this person can give: no such poll, an option it does not have, or a
    poll that never went to them (a forged or stale press)."""


class Closed(ValueError):
    """The poll no longer takes answers (cancelled, or ANSWER_DAYS are over)."""


@dataclass(frozen=True, slots=True)
class Answered:
    """An answer recorded: its option and label, and the option chosen before (None: the
    first answer)."""

    option: int
    label: str
    before: int | None


def respondent(vault: Vault, poll_id: int, person_id: int) -> str:
    """Who answered, as the table keeps it: the same for one person and poll, unlinkable to
    the person without the key, and different for each poll."""
    return vault.tag(f"poll:{poll_id}:{person_id}")


def is_poll(broadcast: Broadcast) -> bool:
    return bool(broadcast.poll_options)


def buttons(poll_id: int, options: Sequence[str]) -> Keyboard:
    """One button per answer, one a row (long answers stay readable on a phone)."""
    return tuple((Button(label, Vote(poll_id, i).pack()),) for i, label in enumerate(options))


async def known_segment(session: AsyncSession, person_id: int) -> Segment:
    """The segment facts of a person: from their latest request under their name, and the
    kind of work from their latest membership request's contract answer (if one of WORK)."""
    found = await polls.facts(session, person_id)
    return found if found.work in WORK else replace(found, work=None)


async def answer(
    session: AsyncSession,
    services: Services,
    person: Person,
    poll_id: int,
    option: int,
    now: datetime,
) -> Answered:
    """Record a person's answer to a poll they were sent, replacing their earlier one.
    NotAnswerable or Closed when it cannot be taken."""
    poll = await broadcasts.get(session, poll_id)
    options = poll.poll_options if poll is not None else None
    if poll is None or not options or not 0 <= option < len(options):
        raise NotAnswerable(poll_id)
    if not await broadcasts.reached(session, poll_id, person.id):
        raise NotAnswerable(poll_id)
    started = poll.started_at
    if poll.status not in OPEN or started is None or now >= started + timedelta(days=ANSWER_DAYS):
        raise Closed(poll_id)
    segment = await known_segment(session, person.id)
    tag = respondent(services.vault, poll_id, person.id)
    before = await polls.record(session, poll_id, tag, option, segment, now)
    return Answered(option, str(options[option]), before)


async def forget(session: AsyncSession, services: Services, person_id: int) -> int:
    """Erasure: delete a person's answers to every poll; how many went."""
    keys = [(poll_id, respondent(services.vault, poll_id, person_id))
            for poll_id in await polls.answered_polls(session)]  # fmt: skip
    return await polls.forget(session, keys)


# ---------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Cell:
    """One count as it may be shown: None where hidden; `small` when it is under THRESHOLD
    (shown as "<5"), else it is hidden only to protect a small one."""

    count: int | None
    small: bool = False


@dataclass(frozen=True, slots=True)
class Row:
    """One value of a segment (a union, a ward...; `key` "" for not known) and its count
    per answer, in the poll's order."""

    key: str
    label: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True, slots=True)
class Results:
    """A poll's results as they may be shown: the answers, the count of each, how many
    answered (None under THRESHOLD), and per segment (SEGMENTS) its rows."""

    options: tuple[str, ...]
    by_answer: tuple[Cell, ...]
    answered: int | None
    segments: dict[str, list[Row]]


def _cell(shown: Shown, key: str) -> Cell:
    return Cell(shown.cells[key], key in shown.small)


async def results(session: AsyncSession, poll: Broadcast) -> Results:
    """The poll's counts by answer and by segment, each breakdown under the small-cell
    rule; segments' values by name (in the officer's language), "not known" last."""
    options = tuple(str(option) for option in poll.poll_options or ())
    counts = await polls.by_option(session, poll.id)
    shown = suppress({str(i): counts.get(i, 0) for i in range(len(options))})
    by_answer = tuple(_cell(shown, str(i)) for i in range(len(options)))
    total = sum(counts.values())
    found = await polls.by_segment(session, poll.id)
    segments = {
        segment: await _segment(session, segment, found[segment], by_answer) for segment in SEGMENTS
    }
    return Results(options, by_answer, total if total >= THRESHOLD else None, segments)


async def _segment(
    session: AsyncSession,
    segment: str,
    counts: Mapping[tuple[int | str | None, int], int],
    by_answer: Sequence[Cell],
) -> list[Row]:
    """A segment's rows. Each answer's column is one breakdown whose total is that answer's
    count, shown above: every value of the segment is in it, 0 where nobody of it chose
    that answer, and `suppress` decides what is shown. A column whose answer's count is
    hidden shows nothing (every cell "<5" if that count is, else "hidden"): its cells
    would add up to the count, or bound it."""
    named = await _labels(session, segment, {value for value, _option in counts})
    order = sorted(named, key=lambda value: (value is None, named[value].casefold()))
    keys = {value: "" if value is None else str(value) for value in order}
    columns: list[dict[str, Cell]] = []
    for option, total in enumerate(by_answer):
        if total.count is None:
            columns.append({keys[value]: Cell(None, total.small) for value in order})
            continue
        shown = suppress({keys[value]: counts.get((value, option), 0) for value in order})
        columns.append({key: _cell(shown, key) for key in shown.cells})
    return [
        Row(keys[value], named[value], tuple(column[keys[value]] for column in columns))
        for value in order
    ]


async def _labels(
    session: AsyncSession, segment: str, values: set[int | str | None]
) -> dict[int | str | None, str]:
    """Each value of a segment as officers read it."""
    found: dict[int | str | None, str] = {}
    if segment == "work":
        found = {value: _(WORK.get(value, value)) for value in values if isinstance(value, str)}
    else:
        ids = {value for value in values if isinstance(value, int)}
        names = await polls.names(session, segment, ids)
        found = {value: names.get(value, f"#{value}") for value in ids}
    if None in values:
        found[None] = _(UNKNOWN)
    return found
