from __future__ import annotations

import re

import pytest

from shoal.domain.globs import glob_literal_prefix, glob_to_regex

CASES = [
    (".github/workflows/**", ".github/workflows/ci.yml", True),
    (".github/workflows/**", ".github/workflows/nested/a.yml", True),
    (".github/workflows/**", ".github/dependabot.yml", False),
    ("*.md", "README.md", True),
    ("*.md", "docs/README.md", False),
    ("**/*.md", "docs/a/README.md", True),
    ("**/*.md", "README.md", True),
    ("Dockerfile", "Dockerfile", True),
    ("Dockerfile", "x/Dockerfile", False),
    ("**/Dockerfile", "x/Dockerfile", True),
    ("src/?.py", "src/a.py", True),
    ("src/?.py", "src/ab.py", False),
    ("[!a]*.txt", "b.txt", True),
    ("[!a]*.txt", "a.txt", False),
    ("a+b(c).txt", "a+b(c).txt", True),
]


@pytest.mark.parametrize(
    ("pattern", "path", "matches"), CASES, ids=[f"{p}~{s}" for p, s, _ in CASES]
)
def test_glob_to_regex(pattern: str, path: str, matches: bool) -> None:
    assert bool(re.match(glob_to_regex(pattern), path)) is matches


@pytest.mark.parametrize(
    ("pattern", "prefix"),
    [(".github/workflows/**", ".github/workflows/"), ("*.md", ""), ("Dockerfile", "Dockerfile")],
)
def test_literal_prefix(pattern: str, prefix: str) -> None:
    assert glob_literal_prefix(pattern) == prefix


def test_a_bracket_right_after_negation_belongs_to_the_class() -> None:
    # As fnmatch reads them: `[!]` never closes (a literal), `[!]]` is "not ]".
    assert re.fullmatch(glob_to_regex("[!]"), "[!]")
    assert re.fullmatch(glob_to_regex("[!]]"), "a")
    assert not re.fullmatch(glob_to_regex("[!]]"), "]")
