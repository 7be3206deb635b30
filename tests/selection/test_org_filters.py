"""The org source's filters, applied in Python so every repository left out has a reason."""

from __future__ import annotations

from typing import Any

import pytest

from shoal.selection.org_filters import org_filter_failure
from shoal.spec.selection import OrgSource
from tests.selection.builders import meta

CASES: list[tuple[str, dict[str, Any], dict[str, Any], str | None]] = [
    ("no-filters", {}, {}, None),
    ("archived-left-out", {}, {"archived": True}, "archived (include_archived is false)"),
    ("archived-kept-when-asked", {"include_archived": True}, {"archived": True}, None),
    ("fork-left-out", {}, {"fork": True}, "fork (include_forks is false)"),
    ("fork-kept-when-asked", {"include_forks": True}, {"fork": True}, None),
    ("visibility", {"visibility": "public"}, {}, "visibility is private, not public"),
    ("language-case-insensitive", {"language": "python"}, {"language": "Python"}, None),
    ("language-differs", {"language": "Python"}, {"language": "Go"}, "language is Go, not Python"),
    (
        "language-unknown",
        {"language": "Python"},
        {"language": None},
        "language is unknown, not Python",
    ),
    ("topics-all-of", {"topics": ["a", "b"]}, {"topics": ("B", "a", "c")}, None),
    ("topic-missing", {"topics": ["a", "b"]}, {"topics": ("a",)}, "missing topic b"),
    ("topics-missing", {"topics": ["a", "b"]}, {"topics": ()}, "missing topics a, b"),
    ("names-glob", {"names": ["svc-*", "api"]}, {"name": "SVC-001"}, None),
    (
        "names-no-match",
        {"names": ["svc-*", "api"]},
        {"name": "web"},
        "name 'web' matches none of 'api', 'svc-*'",
    ),
    (
        "first-failing-filter",
        {"language": "Go"},
        {"archived": True, "language": "Python"},
        "archived (include_archived is false)",
    ),
]


@pytest.mark.parametrize(
    ("source", "repo", "failure"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_org_filter_failure(
    source: dict[str, Any], repo: dict[str, Any], failure: str | None
) -> None:
    name = repo.pop("name", "repo")
    assert (
        org_filter_failure(OrgSource(org="acme", **source), meta(f"acme/{name}", **repo)) == failure
    )
