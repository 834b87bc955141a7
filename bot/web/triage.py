"""How the queue reads at a glance: a case's age, the time left to its due time and its
colour (on time, due today, overdue), and the first words the worker wrote."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.services.i18n import _
from storage.cases import OPEN_STATUSES
from storage.localtime import LOCAL_TIME
from storage.models import Case

PREVIEW = 140  # characters of the worker's first message on a row


def preview(text: str) -> str:
    """The worker's first words, on one line."""
    line = " ".join(text.split())
    return line if len(line) <= PREVIEW else line[: PREVIEW - 1].rstrip() + "…"


def _span(delta: timedelta) -> str:
    """A length of time in the largest unit that fits: '5 phút', '3 giờ', '2 ngày'."""
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return _("{n} min").format(n=max(minutes, 1))
    if minutes < 48 * 60:
        return _("{n} h").format(n=minutes // 60)
    return _("{n} days").format(n=minutes // (24 * 60))


def ago(delta: timedelta) -> str:
    """How long ago: '2 giờ trước'."""
    return _("{span} ago").format(span=_span(delta))


def due_state(case: Case, now: datetime) -> str | None:
    """'late' (overdue), 'today' (due before the end of today in Vietnam), 'ok', or None
    for a finished case or one with no due time."""
    if case.due_at is None or case.status not in OPEN_STATUSES:
        return None
    if case.due_at < now:
        return "late"
    if case.due_at.astimezone(LOCAL_TIME).date() == now.astimezone(LOCAL_TIME).date():
        return "today"
    return "ok"


def due_text(case: Case, now: datetime) -> str:
    """'quá hạn 2 ngày' or 'còn 5 giờ'."""
    assert case.due_at is not None
    if case.due_at < now:
        return _("overdue by {span}").format(span=_span(now - case.due_at))
    return _("{span} left").format(span=_span(case.due_at - now))
