"""Outreach codes: random, readable off paper, found in what a worker types only when the
message is nothing but a code."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.services import outreach
from bot.services.outreach import ALPHABET, CODE_LENGTH
from bot.services.text import fold


def test_codes_are_random_readable_and_never_a_word():
    codes = {outreach.new_code() for _ in range(2000)}
    assert len(codes) == 2000  # no repeats in a few thousand
    for code in codes:
        assert len(code) == CODE_LENGTH and set(code) <= set(ALPHABET)
        assert any(c.isdigit() for c in code) and any(c.isalpha() for c in code)
        assert not set(code) & set("ilo01")  # nothing to misread on a poster


def test_a_code_is_read_however_the_worker_types_it():
    for typed in ("k7m2x9qa", "K7M2X9QA", " Mã: k7m2x9qa ", "ma k7m2x9qa", "CODE:K7M2X9QA"):
        assert outreach.typed_code(typed) == "k7m2x9qa", typed
    for other in ("k7m2x9q", "k7m2x9qab", "abcdefgh", "luong123", "mã k7m2 x9qa", "/start", ""):
        assert outreach.typed_code(other) is None, other


@given(st.text(max_size=40))
def test_any_text_is_a_code_only_when_it_is_nothing_but_one(text):
    found = outreach.typed_code(text)
    if found is not None:
        assert len(found) == CODE_LENGTH and set(found) <= set(ALPHABET)
        assert found in fold(text).lower()  # as typed, but for accents and case
