"""What the suite needs from ../shared is copied into content/; the copy must stay current.
Every Vietnamese answer fits a phone screen and speaks to the reader as "bạn"."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from bot.services.knowledge import Article, load_articles, load_taxonomy
from tests.support import IN_CI, SHARED

CONTENT = Path(__file__).resolve().parents[1] / "content"
# content/faq/README.md: an answer is about 400-1,100 characters, for a phone screen.
MAX_BODY = 1100


def test_the_taxonomy_copy_matches_shared():
    original = SHARED / "taxonomy.yaml"
    if not original.is_file():
        if IN_CI:
            pytest.fail(f"{original} is missing; CI runs with ../shared beside the project")
        pytest.skip("no ../shared beside this clone; the copy in content/ is used as it is")
    assert (CONTENT / "taxonomy.yaml").read_bytes() == original.read_bytes(), (
        "copy ../shared/taxonomy.yaml to content/"
    )


def vietnamese_articles() -> dict[str, Article]:
    articles, problems = load_articles(CONTENT, load_taxonomy(CONTENT / "taxonomy.yaml"))
    assert not problems, problems
    return articles["vi"]


def test_every_vietnamese_answer_fits_a_phone_screen():
    too_long = {
        topic: len(article.body)
        for topic, article in vietnamese_articles().items()
        if len(article.body) > MAX_BODY
    }
    assert not too_long, f"answers longer than {MAX_BODY} characters: {too_long}"


def test_every_vietnamese_answer_speaks_to_the_reader_as_ban():
    silent = sorted(
        topic
        for topic, article in vietnamese_articles().items()
        if "bạn" not in unicodedata.normalize("NFC", article.body).lower()
    )
    assert not silent, f"answers that never address the reader as 'bạn': {silent}"
