"""Who filed a case, kept so that only the key can tell: the sealed reporter and the tag of an
anonymous case, and the PIN that lets an anonymous reporter check it from another account.

An anonymous case holds no person id. `reporter_sealed` (opened only to relay an answer) and
`reporter_tag` (a keyed hash, so the reporter's own "My requests" finds it) both need the
vault's key; the PIN is kept only as a keyed hash of the code and the PIN.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from bot.services.crypto import Vault
from storage.models import Case


def tag(vault: Vault, person_id: int | str) -> str:
    """The tag that links a person to their anonymous cases (only with the key)."""
    return vault.tag(f"reporter:{person_id}")


def columns(vault: Vault, person_id: int, anonymous: bool) -> dict[str, Any]:
    """The Case columns that say who filed it: the person, or for an anonymous case only a
    sealed copy (to relay answers) and the tag (for their own "My requests")."""
    if not anonymous:
        return {"person_id": person_id}
    return {
        "person_id": None,
        "reporter_sealed": vault.seal(str(person_id)),
        "reporter_tag": tag(vault, person_id),
    }


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
