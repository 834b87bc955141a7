"""Replies longer than a message can hold are split, not cut."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.channels.base import split_text


def test_short_text_is_one_message():
    assert split_text("Xin chào") == ["Xin chào"]


def test_long_text_splits_at_paragraphs_then_spaces():
    first, second = "a" * 3000, "b" * 3000
    assert split_text(f"{first}\n\n{second}") == [first, second]
    assert split_text("a" * 99 + " " + "b" * 50, limit=100) == ["a" * 99, "b" * 50]
    assert split_text("c" * 250, limit=100) == ["c" * 100, "c" * 100, "c" * 50]


@given(st.text(alphabet="ab \n", max_size=12000))
def test_no_chunk_is_over_the_limit_and_nothing_but_whitespace_is_dropped(text):
    chunks = split_text(text, limit=100)
    assert all(len(chunk) <= 100 for chunk in chunks)
    assert "".join("".join(chunks).split()) == "".join(text.split())
