"""decide(): one decision per repository, from every source's reports and the exclude rules."""

from __future__ import annotations

from typing import Any

import pytest

from shoal.selection import SourceResult, TargetCause, decide
from shoal.spec.selection import ExcludeRule
from tests.selection.builders import found, meta, rejected, unreachable

C = TargetCause
SHA_DEV = "d" * 40
API = meta("acme/api")

# (results, exclude rules, expected rows: (full_name, included, cause, reason, branch, sha))
CASES: list[tuple[str, list[SourceResult], list[dict[str, Any]], list[tuple[Any, ...]]]] = [
    (
        "one-source-includes",
        [found(0, "search", API)],
        [],
        [("acme/api", True, C.INCLUDED, "on[0] (search)", "main", "a" * 40)],
    ),
    (
        "first-source-is-the-reason",
        [found(0, "search", API), found(1, "org acme", API)],
        [],
        [("acme/api", True, C.INCLUDED, "on[0] (search)", "main", "a" * 40)],
    ),
    (
        "source-order-not-argument-order",
        [found(3, "org acme", API), found(1, "search", API)],
        [],
        [("acme/api", True, C.INCLUDED, "on[1] (search)", "main", "a" * 40)],
    ),
    (
        "pinned-branch-of-a-later-source-is-the-base",
        [
            found(0, "org acme", API),
            found(1, "repos", meta("acme/api", base_branch="develop", head_sha=SHA_DEV)),
        ],
        [],
        [("acme/api", True, C.INCLUDED, "on[0] (org acme)", "develop", SHA_DEV)],
    ),
    (
        "missing-pinned-branch-excludes-even-if-another-source-includes",
        [
            found(0, "org acme", API),
            unreachable(1, "acme/api", C.BRANCH_NOT_FOUND, "branch 'develop' not found"),
        ],
        [],
        [("acme/api", False, C.BRANCH_NOT_FOUND, "branch 'develop' not found", "main", "a" * 40)],
    ),
    (
        "archived-always-excluded-before-rules",
        [found(0, "search", meta("acme/old", archived=True))],
        [{"archived": True}],
        [("acme/old", False, C.ARCHIVED, "archived", "main", "a" * 40)],
    ),
    (
        "empty-always-excluded",
        [found(0, "search", meta("acme/empty", default_branch=None, head_sha=None))],
        [],
        [("acme/empty", False, C.EMPTY, "empty repository (no default branch)", None, None)],
    ),
    (
        "first-matching-rule-is-the-reason",
        [found(0, "search", meta("acme/legacy-api"))],
        [{"language": "Go"}, {"repo": "acme/legacy-*"}, {"language": "python"}],
        [
            (
                "acme/legacy-api",
                False,
                C.EXCLUDE_RULE,
                "exclude[1] (repo 'acme/legacy-*')",
                "main",
                "a" * 40,
            )
        ],
    ),
    (
        "rule-glob-is-case-insensitive",
        [found(0, "search", meta("Acme/Legacy-API"))],
        [{"repo": "ACME/legacy-*"}],
        [
            (
                "Acme/Legacy-API",
                False,
                C.EXCLUDE_RULE,
                "exclude[0] (repo 'ACME/legacy-*')",
                "main",
                "a" * 40,
            )
        ],
    ),
    (
        "rule-needs-every-condition",
        [found(0, "search", API)],
        [{"fork": True, "language": "Python"}],
        [("acme/api", True, C.INCLUDED, "on[0] (search)", "main", "a" * 40)],
    ),
    (
        "rule-with-several-conditions-is-described-whole",
        [found(0, "search", meta("acme/f", fork=True, topics=("Legacy",), visibility="public"))],
        [{"fork": True, "topic": "legacy", "visibility": "public"}],
        [
            (
                "acme/f",
                False,
                C.EXCLUDE_RULE,
                "exclude[0] (fork, topic 'legacy', visibility 'public')",
                "main",
                "a" * 40,
            )
        ],
    ),
    (
        "language-rule-never-matches-unknown-language",
        [found(0, "search", meta("acme/x", language=None))],
        [{"language": "Python"}, {"archived": False}],
        [("acme/x", False, C.EXCLUDE_RULE, "exclude[1] (not archived)", "main", "a" * 40)],
    ),
    (
        "source-filter-alone-excludes",
        [rejected(0, "org acme", meta("acme/go", language="Go"), "language is Go, not Python")],
        [],
        [
            (
                "acme/go",
                False,
                C.SOURCE_FILTER,
                "on[0] (org acme): language is Go, not Python",
                "main",
                "a" * 40,
            )
        ],
    ),
    (
        "another-source-overrides-a-filter",
        [
            rejected(0, "org acme", meta("acme/go", language="Go"), "language is Go, not Python"),
            found(1, "search", meta("acme/go", language="Go")),
        ],
        [],
        [("acme/go", True, C.INCLUDED, "on[1] (search)", "main", "a" * 40)],
    ),
    (
        "not-found-keeps-the-name-as-written",
        [unreachable(0, "Acme/Gone", C.NOT_FOUND, "not found")],
        [],
        [("Acme/Gone", False, C.NOT_FOUND, "not found", None, None)],
    ),
    (
        "not-accessible",
        [
            unreachable(
                0,
                "foo/bar",
                C.NOT_ACCESSIBLE,
                "not accessible: Shoal's App is not installed on 'foo'",
            )
        ],
        [],
        [
            (
                "foo/bar",
                False,
                C.NOT_ACCESSIBLE,
                "not accessible: Shoal's App is not installed on 'foo'",
                None,
                None,
            )
        ],
    ),
    (
        "earliest-refusal-wins",
        [
            unreachable(2, "acme/go", C.NOT_FOUND, "not found"),
            rejected(1, "org acme", meta("acme/go", language="Go"), "language is Go, not Python"),
        ],
        [],
        [
            (
                "acme/go",
                False,
                C.SOURCE_FILTER,
                "on[1] (org acme): language is Go, not Python",
                "main",
                "a" * 40,
            )
        ],
    ),
    (
        "names-match-case-insensitively-across-sources",
        [
            found(0, "search", API),
            unreachable(1, "ACME/API", C.NOT_ACCESSIBLE, "not accessible: whatever"),
        ],
        [],
        [("acme/api", True, C.INCLUDED, "on[0] (search)", "main", "a" * 40)],
    ),
    (
        "sorted-by-full-name-ignoring-case",
        [found(0, "search", meta("b/x"), meta("A/z"), meta("a/y"))],
        [],
        [
            ("a/y", True, C.INCLUDED, "on[0] (search)", "main", "a" * 40),
            ("A/z", True, C.INCLUDED, "on[0] (search)", "main", "a" * 40),
            ("b/x", True, C.INCLUDED, "on[0] (search)", "main", "a" * 40),
        ],
    ),
    ("nothing-found", [SourceResult(index=0, label="on[0] (search)")], [], []),
]


@pytest.mark.parametrize(
    ("results", "rules", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_decide(
    results: list[SourceResult], rules: list[dict[str, Any]], expected: list[tuple[Any, ...]]
) -> None:
    decisions = decide(results, [ExcludeRule.model_validate(r) for r in rules])
    rows = [
        (d.full_name, d.included, d.cause, d.reason, d.base_branch, d.base_sha) for d in decisions
    ]
    assert rows == expected


def test_decision_carries_the_winning_meta() -> None:
    pinned = meta("acme/api", base_branch="develop", head_sha=SHA_DEV, installation_id=7)
    [decision] = decide([found(0, "org acme", API), found(1, "repos", pinned)], [])
    assert decision.meta == pinned
