"""Translations and people-facing formats.

Messages are English msgids in the code, translated by the gettext catalogs in
content/locales/<lang>/LC_MESSAGES/messages.po. The catalogs are compiled in memory when the
process starts (no .mo file to remember to build). `_()` translates into the language of the
person being served, which the dispatcher sets in a context variable for each message.
Dates are shown with Babel's formats in Vietnam's time zone.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from io import BytesIO
from pathlib import Path

from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from storage.localtime import LOCAL_TIME

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"


@dataclass(frozen=True, slots=True)
class Active:
    language: str
    translations: gettext.NullTranslations


# Unset outside a served message: then msgids come back untranslated (English).
_active: ContextVar[Active | None] = ContextVar("unionbot_language", default=None)


class Catalogs:
    """The compiled catalogs of every supported language, loaded once at start."""

    def __init__(self, locales_dir: Path) -> None:
        self._by_language: dict[str, gettext.NullTranslations] = {}
        for language in LANGUAGES:
            po = locales_dir / language / "LC_MESSAGES" / "messages.po"
            self._by_language[language] = (
                compile_po(po) if po.is_file() else (gettext.NullTranslations())
            )

    def get(self, language: str) -> gettext.NullTranslations:
        return self._by_language.get(language) or self._by_language[DEFAULT_LANGUAGE]

    @contextmanager
    def activate(self, language: str) -> Iterator[None]:
        """Make `_()` speak `language` inside the block."""
        language = language if language in LANGUAGES else DEFAULT_LANGUAGE
        token = _active.set(Active(language, self.get(language)))
        try:
            yield
        finally:
            _active.reset(token)

    def switch(self, language: str) -> None:
        """Change the active language inside an activate() block (after /lang)."""
        language = language if language in LANGUAGES else DEFAULT_LANGUAGE
        _active.set(Active(language, self.get(language)))


def compile_po(path: Path) -> gettext.GNUTranslations:
    """Compile a .po file to gettext translations in memory; fuzzy entries are left out."""
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=path.parent.parent.name)
    buffer = BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def _(message: str) -> str:
    """Translate a message into the language of the person being served."""
    active = _active.get()
    return active.translations.gettext(message) if active else message


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown, with _()."""
    return message


def current_language() -> str:
    active = _active.get()
    return active.language if active else "en"


def format_date(moment: datetime | date) -> str:
    """A date as people read it, in Vietnam time: '25/11/2026' (Vietnamese write the day
    first, in figures; "25 tháng 11, 2026" reads as a translation). A calendar date (no time
    of day) is shown as it is."""
    if isinstance(moment, datetime):
        moment = moment.astimezone(LOCAL_TIME)
    pattern = "d/M/y" if current_language() == "vi" else "d MMM y"
    return babel_format_date(moment, pattern, locale=current_language())


def format_datetime(moment: datetime) -> str:
    """Time, weekday and date in Vietnam time: '17:00 thứ Tư, 9/12/2026'. The weekday tells a
    worker at a glance whether "by then" means tomorrow or next week."""
    language = current_language()
    if language != "vi":
        return babel_format_datetime(
            moment, "HH:mm, EEE d MMM y", tzinfo=LOCAL_TIME, locale=language
        )
    local = moment.astimezone(LOCAL_TIME)
    weekday = babel_format_date(local, "EEEE", locale="vi")  # "Thứ Tư", "Chủ Nhật"
    # Mid-sentence Vietnamese writes "thứ Tư" and "chủ nhật".
    weekday = "chủ nhật" if local.weekday() == 6 else weekday[:1].lower() + weekday[1:]
    return f"{local:%H:%M} {weekday}, {local.day}/{local.month}/{local.year}"
