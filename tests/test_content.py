"""What the suite needs from ../shared is copied into content/; the copy must stay current."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import IN_CI, SHARED

CONTENT = Path(__file__).resolve().parents[1] / "content"


def test_the_taxonomy_copy_matches_shared():
    original = SHARED / "taxonomy.yaml"
    if not original.is_file():
        if IN_CI:
            pytest.fail(f"{original} is missing; CI runs with ../shared beside the project")
        pytest.skip("no ../shared beside this clone; the copy in content/ is used as it is")
    assert (CONTENT / "taxonomy.yaml").read_bytes() == original.read_bytes(), (
        "copy ../shared/taxonomy.yaml to content/"
    )
