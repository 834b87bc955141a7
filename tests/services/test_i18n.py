"""Catalogs: extraction is current, Vietnamese is complete, dates are Vietnamese and local."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from bot.services.i18n import Catalogs, _, format_date, format_datetime

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "content" / "locales"
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def _ids(path: Path) -> set[str]:
    with path.open("rb") as handle:
        return {m.id for m in read_po(handle) if m.id}


def test_the_template_holds_exactly_what_the_code_says(tmp_path):
    fresh = tmp_path / "messages.pot"
    CommandLineInterface().run(
        [
            "pybabel", "-q", "extract", "-F", str(ROOT / "pyproject.toml"), "-k", "N_",
            "--no-location", "-o", str(fresh), str(ROOT / "bot"), str(ROOT / "handlers"),
        ]
    )  # fmt: skip
    assert _ids(fresh) == _ids(LOCALES / "messages.pot"), (
        "run the pybabel extract/update commands in README.md"
    )


def test_every_message_has_a_vietnamese_translation_with_the_same_placeholders():
    template = _ids(LOCALES / "messages.pot")
    with (LOCALES / "vi" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        vi = {m.id: m for m in read_po(handle) if m.id}
    assert set(vi) == template
    assert _ids(LOCALES / "en" / "LC_MESSAGES" / "messages.po") == template
    for msgid, message in vi.items():
        assert message.string, f"no Vietnamese for {msgid!r}"
        assert not message.fuzzy, f"fuzzy Vietnamese for {msgid!r}"
        assert sorted(PLACEHOLDER.findall(message.string)) == sorted(PLACEHOLDER.findall(msgid))


def test_catalogs_are_compiled_at_start_and_switch_per_person():
    catalogs = Catalogs(LOCALES)
    assert _("Main menu") == "Main menu"  # outside a served message: the msgid
    with catalogs.activate("vi"):
        assert _("Main menu") == "Về menu chính"
        with catalogs.activate("en"):
            assert _("Main menu") == "Main menu"
        assert _("Main menu") == "Về menu chính"
    with catalogs.activate("fr"):  # unsupported: the default
        assert _("Main menu") == "Về menu chính"


def test_dates_are_vietnamese_in_vietnam_time():
    catalogs = Catalogs(LOCALES)
    late_evening_utc = datetime(2026, 12, 31, 17, 5, tzinfo=UTC)  # 00:05 on 1 January there
    with catalogs.activate("vi"):
        assert format_date(late_evening_utc) == "1/1/2027"
        assert format_datetime(late_evening_utc) == "00:05 thứ Sáu, 1/1/2027"
    with catalogs.activate("en"):
        assert format_date(late_evening_utc) == "1 Jan 2027"
