"""Folding a pull request read off GitHub into a changeset's observed state."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from shoal.domain.changesets import Observed
from shoal.github.pulls_observed import ObservedPR, PullState
from shoal.reconcile import merge_pull, needs_reconcile, text_sha256

AT = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
PR = ObservedPR(
    number=7,
    node_id="PR_7",
    state=PullState.OPEN,
    draft=False,
    head_sha="a" * 40,
    head_ref="shoal/x",
    base_ref="main",
    url="https://github.test/acme/x/pull/7",
    title="ci: bump",
    body="body",
    labels=("b", "a"),
    reviewers=("carol",),
    team_reviewers=None,
    assignees=("alice",),
    base_sha="b" * 40,
    mergeable="mergeable",
)
SEEN = Observed(branch_sha="a" * 40, push_key="k", adopted=True, team_reviewers=("platform",))


def test_a_read_sets_what_it_includes_and_keeps_what_only_shoal_knows() -> None:
    merged = merge_pull(SEEN, PR, at=AT)
    assert (merged.pr_number, merged.pr_state, merged.head_sha) == (7, "open", "a" * 40)
    assert merged.labels == ("a", "b")  # sorted: a set, as the desired state keeps it
    assert merged.title_sha256 == text_sha256("ci: bump")
    assert merged.team_reviewers == ("platform",)  # not in this read: kept
    assert (merged.push_key, merged.branch_sha, merged.adopted) == ("k", "a" * 40, True)
    assert merged.synced_at == AT.isoformat()


@pytest.mark.parametrize(
    ("shown", "before", "after"),
    [("squash", None, "squash"), ("", "squash", None), (None, "squash", "squash")],
    ids=["enabled", "turned-off", "not-in-the-read"],
)
def test_auto_merge_as_github_shows_it(
    shown: str | None, before: str | None, after: str | None
) -> None:
    observed = dataclasses.replace(SEEN, auto_merge=before)
    merged = merge_pull(observed, dataclasses.replace(PR, auto_merge=shown), at=AT)
    assert merged.auto_merge == after


@pytest.mark.parametrize(
    ("change", "acts"),
    [
        ({"state": PullState.CLOSED}, True),
        ({"head_sha": "c" * 40}, True),
        ({"base_sha": "d" * 40}, True),
        ({"title": "edited by a human"}, True),
        ({"labels": ("a",)}, True),
        ({"mergeable": "conflicting"}, True),
        ({"updated_at": "2026-12-07T13:00:00Z"}, False),
        ({"review_decision": "approved"}, False),
        ({}, False),
    ],
    ids=[
        "closed",
        "foreign-commit",
        "base-moved",
        "title-edit",
        "label-removed",
        "conflict",
        "only-timestamp",
        "review-decision",
        "nothing",
    ],
)
def test_only_changes_the_reconciler_acts_on_ask_for_a_pass(
    change: dict[str, object], acts: bool
) -> None:
    before = merge_pull(SEEN, PR, at=AT)
    after = merge_pull(before, dataclasses.replace(PR, **change), at=AT)  # type: ignore[arg-type]
    assert needs_reconcile(before, after) is acts


def test_a_first_reading_of_a_pr_shoal_opened_asks_for_nothing() -> None:
    recorded = Observed(
        branch_sha="a" * 40,
        push_key="k",
        pr_number=7,
        pr_state="open",
        labels=("a", "b"),
        reviewers=("carol",),
        assignees=("alice",),
        # Recorded when Shoal opened the PR with the rendered template.
        title_sha256=text_sha256("ci: bump"),
        body_sha256=text_sha256("body"),
    )
    first = merge_pull(recorded, PR, at=AT)
    assert not needs_reconcile(recorded, first)
    # ... unless it already shows what the reconciler acts on.
    foreign = merge_pull(recorded, dataclasses.replace(PR, head_sha="c" * 40), at=AT)
    conflicting = merge_pull(recorded, dataclasses.replace(PR, mergeable="conflicting"), at=AT)
    edited = merge_pull(recorded, dataclasses.replace(PR, title="edited"), at=AT)
    assert needs_reconcile(recorded, foreign) and needs_reconcile(recorded, conflicting)
    assert needs_reconcile(recorded, edited)
