"""Services that handlers reach through ctx.services: settings, translations, the knowledge
base, the encryption vault, the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.config import Settings
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

    @classmethod
    def load(cls, settings: Settings, clock: Callable[[], datetime] = utcnow) -> Services:
        """Read the catalogs and the knowledge base from settings.content_dir."""
        return cls(
            settings=settings,
            catalogs=Catalogs(settings.content_dir / "locales"),
            knowledge=Knowledge.load(settings.content_dir),
            vault=load_vault(settings),
            clock=clock,
        )
