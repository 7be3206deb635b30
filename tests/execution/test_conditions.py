"""Step conditions: Jinja2 templates rendered in a sandbox, strict about unknown names."""

from __future__ import annotations

from typing import Any

import pytest

from shoal.execution.conditions import ConditionError, condition_holds

CONTEXT: dict[str, Any] = {
    "repo": {"name": "widget", "language": "Python", "topics": ["python", "ci"], "stars": 0},
    "campaign": {"name": "bump"},
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ repo.language == 'Python' }}", True),
        ("{{ repo.language == 'Go' }}", False),
        ("{{ 'ci' in repo.topics }}", True),
        ("{{ repo.stars }}", False),
        ("{{ repo.name }}", True),
        ("{% if repo.name.startswith('wid') %}yes{% endif %}", True),
        ("{% if false %}yes{% endif %}", False),
        ("  {{ 'FALSE' }}  ", False),
        ("{{ 'No' }}", False),
        ("{{ none }}", False),
        ("null", False),
        ("anything else", True),
    ],
    ids=[
        "equal",
        "not-equal",
        "membership",
        "zero",
        "non-empty-string",
        "block-yes",
        "block-empty",
        "false-padded-uppercase",
        "no",
        "none",
        "null-literal",
        "plain-text",
    ],
)
def test_condition_truthiness(template: str, expected: bool) -> None:
    assert condition_holds(template, CONTEXT) is expected


def test_no_condition_holds() -> None:
    assert condition_holds(None, {}) is True


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("{{ repo.lang }}", "lang"),
        ("{{ owner }}", "owner"),
        ("{{ repo.language ==  }}", "TemplateSyntaxError"),
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
        ("{{ repo.__class__.__mro__ }}", "SecurityError"),
        ("{{ ''.__class__.__subclasses__() }}", "unsafe"),
    ],
    ids=["unknown-field", "unknown-name", "syntax", "division", "dunder", "subclasses"],
)
def test_invalid_conditions_raise(template: str, fragment: str) -> None:
    with pytest.raises(ConditionError, match=fragment):
        condition_holds(template, CONTEXT)
