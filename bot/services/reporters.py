"""Who filed a case, kept so that only the key can tell: the sealed reporter of an anonymous
case, the person's sealed list of their anonymous cases, and the PIN that lets an anonymous
reporter check a case from another account.

An anonymous case holds no person id and nothing it shares with the person's other cases:
`reporter_sealed` (opened only to relay an answer) needs the vault's key, and the way back
from the person to their cases is `people.cases_sealed`, a sealed list of case ids. The PIN
is kept only as a keyed hash of the code and the PIN, and wrong tries are counted per case.
"""

from __future__ import annotations

import hmac
import json
import secrets
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.crypto import Vault
from storage.models import Case, Person

MAX_PIN_FAILURES = 5  # per case and day: 6 digits must not be guessable through the bot


def tag(vault: Vault, person_id: int | str) -> str:
    """The keyed hash that linked a person to their anonymous cases before 0009 (shared by
    all of them); only read to move such cases into the sealed list."""
    return vault.tag(f"reporter:{person_id}")


def columns(vault: Vault, person_id: int, anonymous: bool) -> dict[str, Any]:
    """The Case columns that say who filed it: the person, or for an anonymous case only a
    sealed copy (to relay answers). Then `remember` the case on the person."""
    if not anonymous:
        return {"person_id": person_id}
    return {"person_id": None, "reporter_sealed": vault.seal(str(person_id))}


def _sealed_ids(vault: Vault, person: Person) -> list[int]:
    if person.cases_sealed is None:
        return []
    try:
        return [int(i) for i in json.loads(vault.open(person.cases_sealed))]
    except ValueError:
        return []


def remember(vault: Vault, person: Person, case_id: int) -> None:
    """Add an anonymous case to the person's sealed list."""
    ids = {*_sealed_ids(vault, person), case_id}
    person.cases_sealed = vault.seal(json.dumps(sorted(ids)))


async def case_ids(session: AsyncSession, vault: Vault, person: Person) -> list[int]:
    """The person's anonymous cases. The first time, cases filed before 0009 (found by the old
    shared tag) move into the sealed list and lose the tag."""
    if person.cases_sealed is not None:
        return _sealed_ids(vault, person)
    legacy = (
        await session.scalars(select(Case.id).where(Case.reporter_tag == tag(vault, person.id)))
    ).all()
    if legacy:
        await session.execute(update(Case).where(Case.id.in_(legacy)).values(reporter_tag=None))
    person.cases_sealed = vault.seal(json.dumps(sorted(legacy)))
    return list(legacy)


def forget(person: Person) -> None:
    """Drop the person's list (erasure): nothing leads from them to their cases any more."""
    person.cases_sealed = None


def new_pin(vault: Vault, case: Case) -> str:
    """A 6-digit PIN for an anonymous case; only its keyed hash is kept."""
    pin = f"{secrets.randbelow(10**6):06d}"
    case.pin_tag = vault.tag(f"pin:{case.code}:{pin}")
    return pin


def pin_matches(vault: Vault, case: Case | None, code: str, pin: str) -> bool:
    """Whether `pin` is the PIN of the case with this code (compared in constant time)."""
    expected = case.pin_tag if case is not None else None
    given = vault.tag(f"pin:{code}:{pin}")
    return expected is not None and hmac.compare_digest(expected, given)


def pin_locked(case: Case, today: date) -> bool:
    """Too many wrong PINs on this case today: no more tries until tomorrow."""
    return case.pin_failed_on == today and case.pin_failures >= MAX_PIN_FAILURES


def count_wrong_pin(case: Case, today: date) -> None:
    if case.pin_failed_on != today:
        case.pin_failed_on, case.pin_failures = today, 0
    case.pin_failures += 1
