"""Services that handlers reach through ctx.services: settings, translations, the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.config import Settings
from bot.services.i18n import Catalogs


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    catalogs: Catalogs
    clock: Callable[[], datetime] = field(default=utcnow)
