"""GitHub's issue and pull-request search syntax (``GET /search/issues``): parsing a query
and matching one pull request. Plain issues are not modelled, so ``is:issue`` and
``type:issue`` match nothing.

Supported: ``repo:``, ``org:``, ``user:`` (several are OR-ed), ``is:pr|pull-request|issue|
open|closed|merged|unmerged|draft``, ``type:pr|issue``, ``state:open|closed``,
``draft:true|false``, ``author:`` (``app/slug`` for an App), ``assignee:``, ``label:``
(each one AND-ed, commas inside one OR-ed), ``no:label|assignee``, ``head:``, ``base:``,
``review-requested:`` (asked directly or through one of the user's teams),
``user-review-requested:`` (asked directly), ``team-review-requested:org/slug``,
``reviewed-by:``,
``commenter:``, ``involves:``, ``created:``/``updated:``/``closed:``/``merged:`` (the
repository search's date forms), ``in:title|body|comments``, ``sort:created|updated|
comments[-asc|-desc]`` and free-text terms, each of which must occur in the ``in:`` fields
(title, body and comments by default). A leading ``-`` negates a qualifier. Unknown
qualifiers are text, as on GitHub. ``@me`` is the searching user. Pure: no I/O, no clock
(the caller says who searches and which teams a login is in).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from shoal_sim.graphql.search_query import parse_interval
from shoal_sim.pulls.records import PullRequest
from shoal_sim.state.models import Repo, Team

Predicate = Callable[[PullRequest, Repo], bool]


@dataclass(frozen=True)
class IssueQuery:
    scopes: tuple[Predicate, ...] = ()  # OR-ed
    checks: tuple[Predicate, ...] = ()  # AND-ed
    terms: tuple[str, ...] = ()
    in_fields: frozenset[str] = field(default_factory=frozenset)
    sort: tuple[str, bool] | None = None  # (field, descending)


def _login(value: str) -> str:
    """``app/slug`` names an App's bot account."""
    lowered = value.lower()
    return f"{lowered.removeprefix('app/')}[bot]" if lowered.startswith("app/") else lowered


def _is(value: str) -> Predicate | None:
    return {
        "pr": lambda p, r: True,
        "pull-request": lambda p, r: True,
        "issue": lambda p, r: False,
        "open": lambda p, r: p.state == "open",
        "closed": lambda p, r: p.state == "closed",
        "merged": lambda p, r: p.merged,
        "unmerged": lambda p, r: p.state == "closed" and not p.merged,
        "draft": lambda p, r: p.draft,
    }.get(value)


def _labels(value: str) -> Predicate:
    wanted = {name.strip().lower() for name in value.split(",")}
    return lambda p, r: any(name.lower() in wanted for name in p.labels)


def _no(value: str) -> Predicate | None:
    return {
        "label": lambda p, r: not p.labels,
        "assignee": lambda p, r: not p.assignees,
    }.get(value)


def _involves(login: str) -> Predicate:
    return lambda p, r: (
        p.user.lower() == login
        or login in (a.lower() for a in p.assignees)
        or any(c.user.lower() == login for c in p.comments)
    )


def _when(moment: Callable[[PullRequest], float | None], text: str) -> Predicate:
    interval = parse_interval(text)

    def holds(p: PullRequest, r: Repo) -> bool:
        at = moment(p)
        return at is not None and interval.contains(at)

    return holds


def _requested(login: str, teams: frozenset[str]) -> Predicate:
    """Asked directly, or through a team (``org/slug``, lower-cased) in ``teams``."""
    return lambda p, r: (
        login in (u.lower() for u in p.requested_reviewers)
        or any(f"{r.owner.lower()}/{slug.lower()}" in teams for slug in p.requested_teams)
    )


def _team_requested(value: str) -> Predicate:
    org, _, slug = value.lower().partition("/")
    return lambda p, r: r.owner.lower() == org and slug in p.requested_teams


_QUALIFIERS: dict[str, Callable[[str], Predicate | None]] = {
    "is": lambda v: _is(v.lower()),
    "type": lambda v: _is({"pr": "pr", "issue": "issue"}.get(v.lower(), "")),
    "state": lambda v: _is(v.lower()) if v.lower() in ("open", "closed") else None,
    "draft": lambda v: lambda p, r: p.draft == (v.lower() == "true"),
    "author": lambda v: lambda p, r: p.user.lower() == _login(v),
    "assignee": lambda v: lambda p, r: _login(v) in (a.lower() for a in p.assignees),
    "label": _labels,
    "no": lambda v: _no(v.lower()),
    "head": lambda v: lambda p, r: p.head_ref == v,
    "base": lambda v: lambda p, r: p.base_ref == v,
    "user-review-requested": lambda v: _requested(v.lower(), frozenset()),
    "team-review-requested": _team_requested,
    "reviewed-by": lambda v: lambda p, r: any(rv.user.lower() == _login(v) for rv in p.reviews),
    "commenter": lambda v: lambda p, r: any(c.user.lower() == _login(v) for c in p.comments),
    "involves": lambda v: _involves(_login(v)),
    "created": lambda v: _when(lambda p: p.created_at, v),
    "updated": lambda v: _when(lambda p: p.updated_at, v),
    "closed": lambda v: _when(lambda p: p.closed_at, v),
    "merged": lambda v: _when(lambda p: p.merged_at, v),
}


def _qualifier(key: str, value: str) -> Predicate | None:
    make = _QUALIFIERS.get(key)
    return None if make is None else make(value)


def _scope(key: str, value: str) -> Predicate | None:
    lowered = value.lower()
    if key == "repo":
        return lambda p, r: r.full_name.lower() == lowered
    if key in ("org", "user"):
        return lambda p, r: r.owner.lower() == lowered
    return None


def _negated(held: Predicate) -> Predicate:
    return lambda p, r: not held(p, r)


def _sort(value: str) -> tuple[str, bool] | None:
    name, _, direction = value.lower().partition("-")
    if name not in ("created", "updated", "comments"):
        return None
    return name, direction != "asc"


def _tokens(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # an unbalanced quote: GitHub searches the words as typed
        return text.split()


def _no_teams(login: str) -> frozenset[str]:
    return frozenset()


def teams_of_members(teams: Iterable[Team]) -> Callable[[str], frozenset[str]]:
    """A ``teams_of`` for :func:`parse_issue_query` over the world's teams."""
    by_login: dict[str, set[str]] = {}
    for team in teams:
        for member in team.members:
            by_login.setdefault(member.lower(), set()).add(f"{team.org}/{team.slug}".lower())
    return lambda login: frozenset(by_login.get(login.lower(), ()))


def parse_issue_query(
    text: str,
    me: str | None = None,
    teams_of: Callable[[str], frozenset[str]] = _no_teams,
) -> IssueQuery:
    """``me``: the searching user's login (``@me``); ``teams_of(login)``: the teams a login
    is in, as lower-cased ``org/slug``."""
    scopes: list[Predicate] = []
    checks: list[Predicate] = []
    terms: list[str] = []
    in_fields: set[str] = set()
    sort: tuple[str, bool] | None = None
    for token in _tokens(text):
        negated = token.startswith("-") and ":" in token
        key, sep, value = token.removeprefix("-").partition(":")
        key = key.lower()
        if not sep or not value:
            if token.upper() not in ("AND", "OR", "NOT"):
                terms.append(token.lower())
            continue
        if key == "in" and not negated:
            in_fields.update(v.strip().lower() for v in value.split(","))
            continue
        if key == "sort" and not negated and (order := _sort(value)) is not None:
            sort = order
            continue
        if value.lower() == "@me" and me is not None:
            value = me
        scope = _scope(key, value)
        if key == "review-requested":
            predicate: Predicate | None = _requested(value.lower(), teams_of(value))
        else:
            predicate = scope or _qualifier(key, value)
        if predicate is None:
            terms.append(token.lower())
        elif negated:
            checks.append(_negated(predicate))
        elif scope is not None:
            scopes.append(scope)
        else:
            checks.append(predicate)
    return IssueQuery(tuple(scopes), tuple(checks), tuple(terms), frozenset(in_fields), sort)


def _text_holds(term: str, pull: PullRequest, in_fields: frozenset[str]) -> bool:
    fields = in_fields or frozenset(("title", "body", "comments"))
    haystacks = []
    if "title" in fields:
        haystacks.append(pull.title.lower())
    if "body" in fields:
        haystacks.append((pull.body or "").lower())
    if "comments" in fields:
        haystacks.extend(c.body.lower() for c in pull.comments)
    return any(term in hay for hay in haystacks)


def matches(query: IssueQuery, pull: PullRequest, repo: Repo) -> bool:
    return (
        (not query.scopes or any(scope(pull, repo) for scope in query.scopes))
        and all(check(pull, repo) for check in query.checks)
        and all(_text_holds(t, pull, query.in_fields) for t in query.terms)
    )


_SORT_KEYS: dict[str, Callable[[PullRequest], float]] = {
    "created": lambda p: p.created_at,
    "updated": lambda p: p.updated_at,
    "comments": lambda p: len(p.comments),
}


def ordered(
    query: IssueQuery, found: list[tuple[PullRequest, Repo]], sort: str | None, order: str | None
) -> list[tuple[PullRequest, Repo]]:
    """The ``sort`` parameter wins over a ``sort:`` qualifier. GitHub's "best match" has no
    meaning here; newest first stands in for it."""
    name, descending = query.sort or ("created", True)
    if sort in _SORT_KEYS:
        name, descending = sort, order != "asc"
    key = _SORT_KEYS[name]
    return sorted(found, key=lambda pr: (key(pr[0]), pr[1].id, pr[0].number), reverse=descending)
