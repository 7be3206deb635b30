"""GitHub's repository search syntax: parsing a query and matching one repository.

Supported: ``org:``, ``user:``, ``repo:`` (any of them; several are OR-ed), ``language:``
(OR-ed), ``topic:`` (AND-ed), ``archived:``, ``fork:true|only|false`` (forks are excluded
unless asked for), ``is:public|private|internal``, ``created:``/``pushed:`` with dates or
date-times (``2020-01-01..2020-06-30``, ``>=``, ``>``, ``<=``, ``<``, ``*``),
``in:name|description|topics``, ``sort:updated[-asc|-desc]`` and free-text terms, each of
which must occur in the name, description or topics (or the ``in:`` fields). A leading
``-`` negates a qualifier. Unknown qualifiers are text, as on GitHub.
Pure: no I/O, no clock; table-tested in ``tests/sim/graphql``.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shoal_sim.state.models import Repo

MAX_QUERY_LENGTH = 256


@dataclass(frozen=True)
class Interval:
    """Half-open ``[low, high)`` in epoch seconds; ``None`` is unbounded."""

    low: float | None
    high: float | None

    def contains(self, moment: float) -> bool:
        return (self.low is None or moment >= self.low) and (
            self.high is None or moment < self.high
        )


NOTHING = Interval(0.0, 0.0)


@dataclass(frozen=True)
class RepoQuery:
    scopes: tuple[tuple[str, str], ...] = ()  # ("owner", "acme") or ("repo", "acme/api")
    languages: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    excluded: tuple[tuple[str, str], ...] = ()  # negated qualifiers: (key, value)
    archived: bool | None = None
    fork: str = "false"  # "false" | "true" | "only"
    visibility: tuple[str, ...] = ()
    created: tuple[Interval, ...] = ()
    pushed: tuple[Interval, ...] = ()
    terms: tuple[str, ...] = ()
    in_fields: frozenset[str] = field(default_factory=frozenset)
    sort: tuple[str, bool] | None = None  # (field, descending)


def _moment(text: str) -> tuple[float, float] | None:
    """The span a date (a whole day) or a date-time (one second) covers."""
    try:
        if "T" in text:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.timestamp(), parsed.timestamp() + 1
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return day.timestamp(), (day + timedelta(days=1)).timestamp()


def parse_interval(text: str) -> Interval:
    """GitHub's date qualifier forms; anything unparsable matches nothing."""
    if ".." in text:
        low_text, _, high_text = text.partition("..")
        low = None if low_text == "*" else _moment(low_text)
        high = None if high_text == "*" else _moment(high_text)
        if (low_text != "*" and low is None) or (high_text != "*" and high is None):
            return NOTHING
        return Interval(low[0] if low else None, high[1] if high else None)
    for prefix in (">=", "<=", ">", "<"):
        if text.startswith(prefix):
            span = _moment(text[len(prefix) :])
            if span is None:
                return NOTHING
            return {
                ">=": Interval(span[0], None),
                ">": Interval(span[1], None),
                "<=": Interval(None, span[1]),
                "<": Interval(None, span[0]),
            }[prefix]
    span = _moment(text)
    return Interval(*span) if span else NOTHING


def _tokens(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # an unbalanced quote: GitHub searches the words as typed
        return text.split()


# A qualifier handler records its value and says whether it understood it.
_Qualifier = Callable[[str, dict[str, Any]], bool]


def _scope(kind: str) -> _Qualifier:
    def add(value: str, found: dict[str, Any]) -> bool:
        found["scopes"].append((kind, value.lower()))
        return True

    return add


def _listed(name: str, parse: Callable[[str], Any] = str.lower) -> _Qualifier:
    def add(value: str, found: dict[str, Any]) -> bool:
        found[name].append(parse(value))
        return True

    return add


def _is(value: str, found: dict[str, Any]) -> bool:
    if value.lower() not in ("public", "private", "internal"):
        return False
    found["visibility"].append(value.lower())
    return True


def _setting(name: str, parse: Callable[[str], Any]) -> _Qualifier:
    def put(value: str, found: dict[str, Any]) -> bool:
        found[name] = parse(value.lower())
        return True

    return put


def _in(value: str, found: dict[str, Any]) -> bool:
    found["in_fields"].extend(v.lower() for v in value.split(","))
    return True


def _sort(value: str) -> tuple[str, bool]:
    name, _, direction = value.partition("-")
    return name, direction != "asc"


_QUALIFIERS: dict[str, _Qualifier] = {
    "org": _scope("owner"),
    "user": _scope("owner"),
    "repo": _scope("repo"),
    "language": _listed("languages"),
    "topic": _listed("topics"),
    "is": _is,
    "created": _listed("created", parse_interval),
    "pushed": _listed("pushed", parse_interval),
    "in": _in,
    "archived": _setting("archived", lambda v: v == "true"),
    "fork": _setting("fork", lambda v: v if v in ("true", "only") else "false"),
    "sort": _setting("sort", _sort),
}
_LISTS = (
    "scopes",
    "languages",
    "topics",
    "excluded",
    "visibility",
    "created",
    "pushed",
    "terms",
    "in_fields",
)


def parse_repository_query(text: str) -> RepoQuery:
    found: dict[str, Any] = {name: [] for name in _LISTS}
    for token in _tokens(text):
        negated = token.startswith("-") and ":" in token
        key, sep, value = token.removeprefix("-").partition(":")
        key = key.lower()
        if not sep or not value:
            if token.upper() not in ("AND", "OR", "NOT"):
                found["terms"].append(token.lower())
        elif negated:
            found["excluded"].append((key, value.lower()))
        elif key not in _QUALIFIERS or not _QUALIFIERS[key](value, found):
            found["terms"].append(token.lower())
    settings: dict[str, Any] = {
        name: frozenset(value) if name == "in_fields" else tuple(value) if name in _LISTS else value
        for name, value in found.items()
    }
    return RepoQuery(**settings)


def _topics(repo: Repo) -> list[str]:
    return [t.lower() for t in repo.topics]


_HOLDS: dict[str, Callable[[str, Repo], bool]] = {
    "org": lambda v, r: r.owner.lower() == v,
    "user": lambda v, r: r.owner.lower() == v,
    "repo": lambda v, r: r.full_name.lower() == v,
    "language": lambda v, r: (r.language or "").lower() == v,
    "topic": lambda v, r: v in _topics(r),
    "archived": lambda v, r: r.archived == (v == "true"),
    "is": lambda v, r: r.visibility.value == v,
}


def _qualifier_holds(key: str, value: str, repo: Repo) -> bool:
    holds = _HOLDS.get(key)
    return holds is not None and holds(value, repo)


def _text_holds(term: str, repo: Repo, in_fields: frozenset[str]) -> bool:
    fields = in_fields or frozenset(("name", "description", "topics"))
    haystacks = []
    if "name" in fields:
        haystacks.append(repo.name.lower())
    if "description" in fields:
        haystacks.append((repo.description or "").lower())
    if "topics" in fields:
        haystacks.extend(t.lower() for t in repo.topics)
    return any(term in hay for hay in haystacks)


def matches(query: RepoQuery, repo: Repo) -> bool:
    checks = (
        not query.scopes
        or any(
            repo.owner.lower() == value if kind == "owner" else repo.full_name.lower() == value
            for kind, value in query.scopes
        ),
        not query.languages or (repo.language or "").lower() in query.languages,
        all(t in _topics(repo) for t in query.topics),
        not any(_qualifier_holds(k, v, repo) for k, v in query.excluded),
        query.archived is None or repo.archived == query.archived,
        repo.fork if query.fork == "only" else (query.fork == "true" or not repo.fork),
        not query.visibility or repo.visibility.value in query.visibility,
        all(i.contains(repo.created_at) for i in query.created),
        all(i.contains(repo.pushed_at) for i in query.pushed),
        all(_text_holds(t, repo, query.in_fields) for t in query.terms),
    )
    return all(checks)


def ordered(query: RepoQuery, repos: list[Repo]) -> list[Repo]:
    """GitHub's "best match" has no meaning here; oldest first is stable and predictable."""
    if query.sort and query.sort[0] == "updated":
        return sorted(repos, key=lambda r: (r.updated_at, r.id), reverse=query.sort[1])
    return sorted(repos, key=lambda r: (r.created_at, r.id))
