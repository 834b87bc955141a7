"""Filing a report or a hardship request: the steps the grievance and support forms share.

Route by the workplace (or ward), work out the due times, keep the phone (sealed) only for a
named request, open the case with its reporter sealed when anonymous, and attach the files
the form collected. The forms word the receipt; announcing to officers comes after it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.services import calendar, reporters
from handlers import workplace
from handlers.forms import Answers
from handlers.types import Context
from storage import cases, evidence
from storage.models import Case, Union


@dataclass(frozen=True, slots=True)
class Filed:
    case: Case
    union: Union
    first_due: datetime
    resolution_due: datetime | None
    attached: int  # files given to the case


async def file(
    ctx: Context,
    answers: Answers,
    *,
    kind: str,
    category: str | None,
    anonymous: bool,
    details: dict[str, Any],
) -> Filed | None:
    """Open the case in the routed union's queue; None when no queue is set up."""
    routed = await workplace.destination(ctx, answers)
    if routed is None:
        return None
    decision, union = routed
    first_due, resolution_due = calendar.due_times(
        kind, ctx.now, ctx.services.settings.due_days, ctx.services.holidays
    )
    vault = ctx.services.vault
    phone = None if anonymous else answers.get("phone")
    if phone:
        ctx.person.phone_encrypted = vault.seal(phone)
    case = await cases.open(
        ctx.session,
        kind=kind,
        category=category,
        union_id=union.id,
        text=str(answers["story"]),
        now=ctx.now,
        anonymous=anonymous,
        due_at=first_due,
        first_response_due_at=first_due,
        resolution_due_at=resolution_due,
        details={
            **details,
            "workplace_text": workplace.typed(answers, "workplace"),
            "ward_text": workplace.typed(answers, "ward"),
        },
        contact_sealed=vault.seal(json.dumps({"phone": phone})) if phone else None,
        **await workplace.case_columns(ctx, decision),
        **reporters.columns(ctx.services.vault, ctx.person.id, anonymous),
    )
    if anonymous:
        reporters.remember(ctx.services.vault, ctx.person, case.id)
    attached = await evidence.attach(ctx.session, list(answers.get("evidence") or ()), case.id)
    return Filed(case, union, first_due, resolution_due, attached)
