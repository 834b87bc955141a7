"""Outreach links: an officer's link for a workplace, a ward or a campaign, printed on a poster
as a QR code, and what it brings: the workers who arrive through it, counted per month.

A link's code is random (CODE_LENGTH letters and digits that cannot be mistaken for one
another), so it can be typed from a poster and carries nothing about anyone. A worker
arrives by opening the Telegram deep link (/start <code>), the web chat's link, or by typing
the code (Zalo's links carry no parameter). Arriving keeps, in the person's conversation
state (sealed at rest, bot/services/drafts.py), the link and the workplace or ward it
stands for: the forms start with it filled in, to be confirmed (handlers/workplace.py), and
the funnel's steps are counted for the link. The counts hold no one (storage/outreach.py).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services import access, drafts, posters, text
from bot.services.i18n import N_
from storage import audit, outreach
from storage.models import Officer, OutreachLink, Union, Ward, Workplace

ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no i, l, o, 0, 1: read off paper
CODE_LENGTH = 8  # 31^8, about 8.5e11: not guessable by trying
LABEL_LENGTH = 120
STATE = drafts.OUTREACH  # in the person's conversation state: where they came from
# A code typed alone, or after "mã"/"ma"/"code" (what a Zalo worker reads off the poster).
TYPED = re.compile(rf"^(?:(?:ma|code)\s*:?\s*)?([{ALPHABET}]{{{CODE_LENGTH}}})$")


class OutreachError(ValueError):
    """A link that cannot be made as asked; the message (a msgid) says why."""


def new_code() -> str:
    """A random code with a letter and a digit (so no word of any language is one)."""
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        if any(c.isdigit() for c in code) and any(c.isalpha() for c in code):
            return code


def typed_code(written: str | None) -> str | None:
    """The code in a message that is nothing but a code (any case, with or without "mã")."""
    folded = text.fold(" ".join((written or "").split())).lower()
    found = TYPED.match(folded)
    if found is None or not any(c.isdigit() for c in found[1]):
        return None
    return found[1]


@dataclass(frozen=True, slots=True)
class Addresses:
    """Where a link takes a worker, per channel (None where the channel is not set up), and
    what the poster's QR code holds."""

    telegram: str | None
    zalo: str | None
    web: str | None

    @property
    def qr(self) -> str | None:
        """The web chat when the bot is public (it opens in any phone's browser, Zalo's
        scanner included), else Telegram's deep link."""
        return self.web or self.telegram

    def listed(self) -> list[tuple[str, str]]:
        """(messenger, address) for each set up, as a poster prints them."""
        named = (("Telegram", self.telegram), ("Zalo", self.zalo), ("Web", self.web))
        return [(name, url) for name, url in named if url]


def addresses(settings: Settings, code: str) -> Addresses:
    """The links of a code under these settings."""
    telegram = zalo = web = None
    if settings.telegram_bot_username:
        telegram = f"https://t.me/{settings.telegram_bot_username}?start={code}"
    if settings.zalo_oa_id:
        zalo = f"https://zalo.me/{quote(settings.zalo_oa_id)}"
    if settings.public_url:
        web = f"{settings.public_url}/chat?start={code}"
    return Addresses(telegram, zalo, web)


async def create(
    session: AsyncSession,
    officer: Officer,
    *,
    union_id: int,
    label: str,
    now: datetime,
    workplace_id: int | None = None,
    ward_id: int | None = None,
    fonts: Path | None = None,
) -> OutreachLink:
    """A new link of `union_id` (the officer's own union or one below it; admins: any),
    named so that the poster's `fonts` can print it."""
    label = " ".join(label.split())
    if not 3 <= len(label) <= LABEL_LENGTH:
        raise OutreachError(N_("Give the link a name of 3 to 120 characters."))
    if fonts is not None and any(
        posters.missing_glyphs(label, fonts / name) for name in (posters.REGULAR, posters.BOLD)
    ):
        # Printed on the poster: a character its font lacks (an emoji) would stop it.
        raise OutreachError(N_("Write the name in letters, digits and punctuation (no emoji)."))
    scope = await access.scope(session, officer)
    if scope.unions is not None and union_id not in scope.unions:
        raise OutreachError(N_("You can make links only for your union and the unions below it."))
    if await session.get(Union, union_id) is None:
        raise OutreachError(N_("Choose the union from the list."))
    if workplace_id is not None and await session.get(Workplace, workplace_id) is None:
        raise OutreachError(N_("Choose the workplace from the list."))
    if ward_id is not None and await session.get(Ward, ward_id) is None:
        raise OutreachError(N_("Choose the ward from the list."))
    code = new_code()
    while await outreach.code_taken(session, code):
        code = new_code()
    link = await outreach.add(
        session, code=code, union_id=union_id, label=label, workplace_id=workplace_id,
        ward_id=ward_id, created_by=officer.id, created_at=now, active=True,
    )  # fmt: skip
    audit.record(
        session, actor="officer", officer_id=officer.id, action="outreach.created", now=now,
        detail={"link": link.id, "union": union_id},
    )  # fmt: skip
    return link


@dataclass(frozen=True, slots=True)
class Arrival:
    """What a link pre-fills: the directory's names of its workplace and ward."""

    workplace: str | None
    ward: str | None


async def arrive(
    session: AsyncSession, state: MutableMapping[str, Any], code: str, now: datetime
) -> Arrival | None:
    """Someone opened or typed a link's code: note it in their state and count the arrival
    (once per person and link). None when no active link has the code."""
    link = await outreach.by_code(session, code)
    if link is None:
        return None
    workplace = await session.get(Workplace, link.workplace_id) if link.workplace_id else None
    ward = await session.get(Ward, link.ward_id) if link.ward_id else None
    held = state.get(STATE)
    came: dict[str, Any] = dict(held) if isinstance(held, dict) else {}
    if came.get("link") != link.id:
        await outreach.count(session, link.id, "arrival", now)
        came = {"asked": came.get("asked", False), "link": link.id, "link_asked": False}
    arrival = Arrival(workplace.name if workplace else None, ward.name if ward else None)
    state[STATE] = {**came, "workplace": arrival.workplace, "ward": arrival.ward}
    return arrival


async def asked(session: AsyncSession, state: MutableMapping[str, Any], now: datetime) -> None:
    """The person asked a question: counted once for everyone, and once for their link."""
    came = dict(state.get(STATE) or {})
    if not came.get("asked"):
        await outreach.count(session, outreach.EVERYONE, "question", now)
        came["asked"] = True
    if came.get("link") and not came.get("link_asked"):
        await outreach.count(session, int(came["link"]), "question", now)
        came["link_asked"] = True
    state[STATE] = came


def link_of(state: MutableMapping[str, Any]) -> int | None:
    """The link the person came through, if any."""
    link = (state.get(STATE) or {}).get("link")
    return int(link) if isinstance(link, int) else None


def prefilled(state: MutableMapping[str, Any]) -> Arrival | None:
    """The workplace and ward the person's link stands for, if any."""
    came = state.get(STATE) or {}
    if not came.get("workplace") and not came.get("ward"):
        return None
    return Arrival(came.get("workplace"), came.get("ward"))
