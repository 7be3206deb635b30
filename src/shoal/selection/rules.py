"""The spec's `exclude` rules: whether one matches a repository, and how to name it. Pure.

A rule matches when every condition it gives holds. Names, topics, languages and
visibility compare case-insensitively, as GitHub does.
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from shoal.domain.repos import RepoMeta
from shoal.spec.selection import ExcludeRule

__all__ = ["describe_rule", "first_matching_rule", "rule_matches"]


def rule_matches(rule: ExcludeRule, meta: RepoMeta) -> bool:
    checks = (
        rule.repo is None or fnmatchcase(meta.full_name.lower(), rule.repo.lower()),
        rule.archived is None or meta.archived == rule.archived,
        rule.fork is None or meta.fork == rule.fork,
        rule.topic is None or rule.topic.lower() in {t.lower() for t in meta.topics},
        rule.language is None or (meta.language or "").lower() == rule.language.lower(),
        rule.visibility is None or meta.visibility.lower() == rule.visibility,
    )
    return all(checks)


def first_matching_rule(rules: Sequence[ExcludeRule], meta: RepoMeta) -> int | None:
    return next((i for i, rule in enumerate(rules) if rule_matches(rule, meta)), None)


def describe_rule(rule: ExcludeRule) -> str:
    """The rule's conditions as a user wrote them, e.g. `repo 'acme/legacy-*', fork`."""
    parts = []
    if rule.repo is not None:
        parts.append(f"repo '{rule.repo}'")
    if rule.archived is not None:
        parts.append("archived" if rule.archived else "not archived")
    if rule.fork is not None:
        parts.append("fork" if rule.fork else "not a fork")
    if rule.topic is not None:
        parts.append(f"topic '{rule.topic}'")
    if rule.language is not None:
        parts.append(f"language '{rule.language}'")
    if rule.visibility is not None:
        parts.append(f"visibility '{rule.visibility}'")
    return ", ".join(parts)
