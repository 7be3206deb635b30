"""Deciding, per repository, whether a run targets it and why. Pure: table-tested.

Every source's candidates, filter rejections and unreachable reports come in; one
`TargetDecision` per repository comes out, sorted by full name. In order:

1. a repository some source found is a candidate; the first source (lowest `on[i]`) is the
   reason it is in, and the first source that pinned a branch gives the base branch;
   a pinned branch that does not exist excludes it (the user asked for that branch);
2. an archived or empty repository cannot take a pull request and is always excluded;
3. then the first matching `exclude` rule excludes it;
4. a repository no source accepted keeps the earliest source's report (filter, not found...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from shoal.domain.repos import RepoMeta
from shoal.selection.results import SourceResult, TargetCause
from shoal.selection.rules import describe_rule, first_matching_rule
from shoal.spec.selection import ExcludeRule

__all__ = ["TargetDecision", "decide"]

EMPTY_REASON = "empty repository (no default branch)"


@dataclass(frozen=True, slots=True)
class TargetDecision:
    full_name: str
    included: bool
    cause: TargetCause
    reason: str
    meta: RepoMeta | None
    base_branch: str | None
    base_sha: str | None


@dataclass(slots=True)
class _Seen:
    """What the sources said about one repository, in source order."""

    found: list[tuple[str, RepoMeta]] = field(default_factory=list)  # (source label, meta)
    # (reason, cause, meta, full name as named) from rejections and unreachable reports
    refused: list[tuple[str, TargetCause, RepoMeta | None, str]] = field(default_factory=list)


def decide(results: Sequence[SourceResult], exclude: Sequence[ExcludeRule]) -> list[TargetDecision]:
    seen: dict[str, _Seen] = {}
    for result in sorted(results, key=lambda r: r.index):
        for meta in result.candidates:
            seen.setdefault(meta.full_name.lower(), _Seen()).found.append((result.label, meta))
        for rejected in result.rejected:
            entry = seen.setdefault(rejected.meta.full_name.lower(), _Seen())
            entry.refused.append(
                (rejected.reason, TargetCause.SOURCE_FILTER, rejected.meta, rejected.meta.full_name)
            )
        for report in result.unreachable:
            entry = seen.setdefault(report.full_name.lower(), _Seen())
            entry.refused.append((report.reason, report.cause, report.meta, report.full_name))
    decisions = [_decide_one(entry, exclude) for entry in seen.values()]
    return sorted(decisions, key=lambda d: (d.full_name.lower(), d.full_name))


def _decide_one(entry: _Seen, exclude: Sequence[ExcludeRule]) -> TargetDecision:
    if not entry.found:
        reason, cause, meta, name = entry.refused[0]
        return _excluded(meta, name, cause, reason)
    label, first = entry.found[0]
    pinned = next((m for _, m in entry.found if m.base_branch is not None), None)
    meta = pinned or first
    missing_branch = next((r for r in entry.refused if r[1] is TargetCause.BRANCH_NOT_FOUND), None)
    if pinned is None and missing_branch is not None:
        reason, cause, branch_meta, _ = missing_branch
        return _excluded(branch_meta or meta, meta.full_name, cause, reason)
    if meta.archived:
        return _excluded(meta, meta.full_name, TargetCause.ARCHIVED, "archived")
    if meta.empty:
        return _excluded(meta, meta.full_name, TargetCause.EMPTY, EMPTY_REASON)
    rule = first_matching_rule(exclude, meta)
    if rule is not None:
        reason = f"exclude[{rule}] ({describe_rule(exclude[rule])})"
        return _excluded(meta, meta.full_name, TargetCause.EXCLUDE_RULE, reason)
    return TargetDecision(
        full_name=meta.full_name,
        included=True,
        cause=TargetCause.INCLUDED,
        reason=label,
        meta=meta,
        base_branch=meta.branch,
        base_sha=meta.head_sha,
    )


def _excluded(meta: RepoMeta | None, name: str, cause: TargetCause, reason: str) -> TargetDecision:
    return TargetDecision(
        full_name=meta.full_name if meta else name,
        included=False,
        cause=cause,
        reason=reason,
        meta=meta,
        base_branch=meta.branch if meta else None,
        base_sha=meta.head_sha if meta else None,
    )
