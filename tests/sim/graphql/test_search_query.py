"""GitHub's repository search qualifiers, parsed and matched without a simulator."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shoal_sim.graphql.search_query import matches, parse_interval, parse_repository_query
from shoal_sim.state.models import Repo, Visibility


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def repo(**fields: object) -> Repo:
    base = Repo(
        1,
        "R",
        "acme",
        "api",
        language="Go",
        topics=["fleet", "core"],
        description="The billing API",
        created_at=at("2020-03-15T12:00:00"),
        pushed_at=at("2021-01-01T00:00:00"),
    )
    for name, value in fields.items():
        setattr(base, name, value)
    return base


@pytest.mark.parametrize(
    ("query", "fields", "expected"),
    [
        ("org:acme", {}, True),
        ("org:ACME", {}, True),
        ("org:globex", {}, False),
        ("org:globex org:acme", {}, True),
        ("user:acme", {}, True),
        ("repo:acme/api", {}, True),
        ("repo:acme/web", {}, False),
        ("language:go", {}, True),
        ("language:python", {}, False),
        ("language:python language:go", {}, True),
        ("topic:fleet", {}, True),
        ("topic:fleet topic:ui", {}, False),
        ("-topic:core", {}, False),
        ("-language:python", {}, True),
        ("archived:true", {}, False),
        ("archived:false", {}, True),
        ("archived:true", {"archived": True}, True),
        ("org:acme", {"fork": True}, False),
        ("fork:true", {"fork": True}, True),
        ("fork:true", {}, True),
        ("fork:only", {}, False),
        ("fork:only", {"fork": True}, True),
        ("is:private", {}, True),
        ("is:public", {}, False),
        ("is:internal", {"visibility": Visibility.INTERNAL}, True),
        ("billing", {}, True),
        ("billing in:name", {}, False),
        ("api in:name", {}, True),
        ("core", {}, True),
        ('"billing api"', {}, True),
        ("nothing-like-it", {}, False),
        ("stars:>10", {}, False),
    ],
    ids=str,
)
def test_qualifiers(query: str, fields: dict[str, object], expected: bool) -> None:
    assert matches(parse_repository_query(query), repo(**fields)) is expected


@pytest.mark.parametrize(
    ("qualifier", "inside", "outside"),
    [
        (
            "2020-01-01..2020-06-30",
            ["2020-01-01T00:00:00", "2020-06-30T23:59:59"],
            ["2019-12-31T23:59:59", "2020-07-01T00:00:00"],
        ),
        (">=2020-03-15", ["2020-03-15T00:00:00"], ["2020-03-14T23:59:59"]),
        (">2020-03-15", ["2020-03-16T00:00:00"], ["2020-03-15T23:59:59"]),
        ("<2020-03-15", ["2020-03-14T23:59:59"], ["2020-03-15T00:00:00"]),
        ("<=2020-03-15", ["2020-03-15T23:59:59"], ["2020-03-16T00:00:00"]),
        ("*..2020-03-15", ["1990-01-01T00:00:00"], ["2020-03-16T00:00:00"]),
        ("2020-03-15..*", ["2030-01-01T00:00:00"], ["2020-03-14T00:00:00"]),
        ("2020-03-15", ["2020-03-15T10:00:00"], ["2020-03-16T00:00:00"]),
        (
            "2020-03-15T10:00:00Z..2020-03-15T11:00:00Z",
            ["2020-03-15T11:00:00"],
            ["2020-03-15T11:00:01"],
        ),
        ("not-a-date", [], ["2020-03-15T10:00:00"]),
    ],
    ids=[
        "range",
        "ge",
        "gt",
        "lt",
        "le",
        "open-low",
        "open-high",
        "one-day",
        "datetimes",
        "invalid",
    ],
)
def test_created_ranges(qualifier: str, inside: list[str], outside: list[str]) -> None:
    interval = parse_interval(qualifier)
    assert all(interval.contains(at(moment)) for moment in inside)
    assert not any(interval.contains(at(moment)) for moment in outside)


def test_created_and_pushed_filter_repositories() -> None:
    subject = repo()
    assert matches(parse_repository_query("created:2020-01-01..2020-06-30"), subject)
    assert not matches(parse_repository_query("created:2020-07-01..2020-12-31"), subject)
    assert matches(parse_repository_query("pushed:>=2021-01-01"), subject)
