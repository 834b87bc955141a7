"""Services that handlers reach through ctx.services: settings, translations, the knowledge
base, the encryption vault, the clock, the public holidays."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.config import CONTENT_DIR, Settings
from bot.services.calendar import Holidays, load_holidays
from bot.services.crypto import Vault, load_vault
from bot.services.i18n import Catalogs
from bot.services.knowledge import Knowledge


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    catalogs: Catalogs
    knowledge: Knowledge
    vault: Vault
    clock: Callable[[], datetime] = field(default=utcnow)
    holidays: Holidays = field(default_factory=lambda: load_holidays(CONTENT_DIR))

    @classmethod
    def load(cls, settings: Settings, clock: Callable[[], datetime] = utcnow) -> Services:
        """Read the catalogs and the knowledge base from settings.content_dir."""
        return cls(
            settings=settings,
            catalogs=Catalogs(settings.content_dir / "locales"),
            knowledge=Knowledge.load(settings.content_dir, settings.cache_dir),
            vault=load_vault(settings),
            clock=clock,
            holidays=load_holidays(settings.content_dir),
        )
