"""What the suite needs from ../shared is copied into content/; the copy must stay current.
Every Vietnamese answer fits a phone screen and speaks to the reader as "bạn"."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
import yaml

from bot.services.knowledge import Article, load_articles, load_taxonomy
from tests.support import IN_CI, SHARED

CONTENT = Path(__file__).resolve().parents[1] / "content"
# content/faq/README.md: an answer is about 400-1,100 characters, for a phone screen.
MAX_BODY = 1100


def topics(data: object) -> dict[str, tuple[str, object, object]]:
    """A parsed taxonomy's topics: id -> (group id, title_vi, scope)."""
    assert isinstance(data, dict), "a taxonomy maps group ids to their topics"
    return {
        topic: (group_id, entry.get("title_vi"), entry.get("scope"))
        for group_id, group in data.items()
        for topic, entry in ((group or {}).get("topics") or {}).items()
    }


def test_the_taxonomy_copy_matches_shared():
    """content/taxonomy.yaml holds the topics of ../shared/taxonomy.yaml and of
    ../shared/taxonomy-additions.yaml together (the additions may later move into
    taxonomy.yaml itself: the union is what counts; taxonomy.yaml wins where both have an id)."""
    original = SHARED / "taxonomy.yaml"
    if not original.is_file():
        if IN_CI:
            pytest.fail(f"{original} is missing; CI runs with ../shared beside the project")
        pytest.skip("no ../shared beside this clone; the copy in content/ is used as it is")
    additions = SHARED / "taxonomy-additions.yaml"
    wanted = topics(yaml.safe_load(additions.read_text("utf-8"))) if additions.is_file() else {}
    shared = yaml.safe_load(original.read_text("utf-8"))
    wanted |= topics(shared)
    copy = yaml.safe_load((CONTENT / "taxonomy.yaml").read_text("utf-8"))
    assert topics(copy) == wanted, (
        "content/taxonomy.yaml must hold the topics of ../shared/taxonomy.yaml and "
        "../shared/taxonomy-additions.yaml"
    )
    assert {g: copy[g].get("title_vi") for g in shared} == {
        g: shared[g].get("title_vi") for g in shared
    }, "the groups' titles differ from ../shared/taxonomy.yaml"


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
