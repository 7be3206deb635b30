"""Folding what GitHub shows about a pull request into a changeset's observed state.

Webhooks and the periodic sync both end here, so a PR read either way changes the
changeset in the same way. Pure: the caller reads and stores.
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import datetime
from typing import Any

from shoal.domain.changesets import Observed
from shoal.github.pulls_observed import ObservedPR

__all__ = ["merge_pull", "needs_reconcile", "text_sha256"]

# What the reconciler acts on: a change to any of these asks for a reconcile pass.
_RECONCILE_FIELDS = (
    "pr_state",
    "draft",
    "head_sha",
    "base_sha",
    "mergeable",
    "labels",
    "reviewers",
    "team_reviewers",
    "assignees",
    "title_sha256",
    "body_sha256",
)


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def merge_pull(observed: Observed, pr: ObservedPR, *, at: datetime) -> Observed:
    """`observed` updated with `pr`. What the read did not include (None) keeps its value;
    what only Shoal knows (the push it made, adoption) is kept."""
    known: dict[str, Any] = {
        "pr_number": pr.number,
        "pr_node_id": pr.node_id,
        "pr_state": pr.state.value,
        "pr_url": pr.url,
        "draft": pr.draft,
        "labels": tuple(sorted(pr.labels)),
        "head_sha": pr.head_sha,
        "title_sha256": text_sha256(pr.title),
        "body_sha256": text_sha256(pr.body),
        "reviewers": None if pr.reviewers is None else tuple(sorted(pr.reviewers)),
        "team_reviewers": None if pr.team_reviewers is None else tuple(sorted(pr.team_reviewers)),
        "assignees": None if pr.assignees is None else tuple(sorted(pr.assignees)),
        "base_sha": pr.base_sha,
        "mergeable": pr.mergeable,
        "review_decision": pr.review_decision,
        "checks": pr.checks,
        "pr_updated_at": pr.updated_at,
    }
    changes = {name: value for name, value in known.items() if value is not None}
    if pr.auto_merge is not None:
        changes["auto_merge"] = pr.auto_merge or None  # "": GitHub shows it off
    return dataclasses.replace(observed, **changes, synced_at=at.isoformat())


def needs_reconcile(before: Observed, after: Observed) -> bool:
    """Whether the difference between two observations is one the reconciler acts on.

    A first reading is not a change in itself: a head Shoal pushed, a base seen for the first
    time, or GitHub finishing its mergeability computation ask for nothing (otherwise the
    first sync of 5,000 PRs would queue 5,000 passes with nothing to do). Title and body are
    compared from their first reading on: a human may have edited them before it.
    """
    for name in _RECONCILE_FIELDS:
        old, new = getattr(before, name), getattr(after, name)
        if old == new or _first_reading(name, old, new, after):
            continue
        return True
    return False


def _first_reading(name: str, old: object, new: object, after: Observed) -> bool:
    if name == "head_sha":
        return old is None and new == after.branch_sha
    if name == "base_sha":
        return old is None
    if name == "mergeable":
        return old in (None, "unknown") and new != "conflicting"
    return False
