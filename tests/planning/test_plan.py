"""The planner, table-tested: desired x observed -> operations."""

from __future__ import annotations

import dataclasses

import pytest

from shoal.domain.changesets import (
    ChangesetState,
    Desired,
    Observed,
    ReconcilerState,
    derive_state,
)
from shoal.planning import Operation, plan

DESIRED = Desired(
    publish=True,
    draft=False,
    base_branch="main",
    base_sha="a" * 40,
    default_branch="main",
    patch_key="patches/sha256/bb/" + "b" * 64,
    patch_sha256="b" * 64,
    title="bump",
    body="body",
    labels=("deps",),
    reviewers=("alice",),
    team_reviewers=("platform",),
    assignees=("bob",),
    commit_message="bump",
    author_name="Shoal",
    author_email="shoal@localhost",
    campaign_name="bump",
    spec_version=1,
    spec_hash="c" * 64,
    run_id=1,
    execution_id=1,
)
PUSHED = Observed(branch_sha="d" * 40, push_key=DESIRED.push_key)
OPEN = dataclasses.replace(
    PUSHED,
    pr_number=7,
    pr_state="open",
    labels=("deps",),
    reviewers=("alice",),
    team_reviewers=("platform",),
    assignees=("bob",),
)
P, C, L, R, A, U = (
    Operation.PUSH,
    Operation.CREATE_PR,
    Operation.SET_LABELS,
    Operation.REQUEST_REVIEWERS,
    Operation.SET_ASSIGNEES,
    Operation.UNDRAFT,
)

CASES = [
    ("not-published", dataclasses.replace(DESIRED, publish=False), Observed(), []),
    ("nothing-yet", DESIRED, Observed(), [P, C, L, R, A]),
    ("pushed-not-opened", DESIRED, PUSHED, [C, L, R, A]),
    ("in-sync", DESIRED, OPEN, []),
    ("patch-changed", dataclasses.replace(DESIRED, patch_sha256="e" * 64), OPEN, [P]),
    ("base-moved", dataclasses.replace(DESIRED, base_sha="f" * 40), OPEN, [P]),
    ("label-missing", dataclasses.replace(DESIRED, labels=("deps", "ci")), OPEN, [L]),
    ("label-extra-kept", dataclasses.replace(DESIRED, labels=()), OPEN, []),
    ("team-reviewer-missing", DESIRED, dataclasses.replace(OPEN, team_reviewers=()), [R]),
    ("assignee-missing", DESIRED, dataclasses.replace(OPEN, assignees=()), [A]),
    ("undraft", DESIRED, dataclasses.replace(OPEN, draft=True), [U]),
    (
        "stays-draft",
        dataclasses.replace(DESIRED, draft=True),
        dataclasses.replace(OPEN, draft=True),
        [],
    ),
    ("create-as-draft", dataclasses.replace(DESIRED, draft=True), PUSHED, [C, L, R, A]),
    ("closed-by-human", DESIRED, dataclasses.replace(OPEN, pr_state="closed"), []),
    ("merged", DESIRED, dataclasses.replace(OPEN, pr_state="merged"), []),
    ("adopted-pr-no-push-record", DESIRED, dataclasses.replace(OPEN, push_key=None), [P]),
]


@pytest.mark.parametrize(
    ("desired", "observed", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_plan(desired: Desired, observed: Observed, expected: list[Operation]) -> None:
    assert plan(desired, observed) == expected


def test_no_desired_state_means_nothing_to_do() -> None:
    assert plan(None, OPEN) == []


STATES = [
    ("unpublished", False, Observed(), ReconcilerState.IDLE, ChangesetState.UNPUBLISHED),
    ("scheduled", True, Observed(), ReconcilerState.WAITING, ChangesetState.SCHEDULED),
    ("queued", True, Observed(), ReconcilerState.QUEUED, ChangesetState.SCHEDULED),
    ("publishing", True, PUSHED, ReconcilerState.PROCESSING, ChangesetState.PUBLISHING),
    ("open", True, OPEN, ReconcilerState.COMPLETED, ChangesetState.OPEN),
    (
        "draft",
        True,
        dataclasses.replace(OPEN, draft=True),
        ReconcilerState.COMPLETED,
        ChangesetState.DRAFT,
    ),
    ("failed", True, Observed(), ReconcilerState.FAILED, ChangesetState.FAILED),
    (
        "merged",
        True,
        dataclasses.replace(OPEN, pr_state="merged"),
        ReconcilerState.COMPLETED,
        ChangesetState.MERGED,
    ),
    (
        "closed",
        True,
        dataclasses.replace(OPEN, pr_state="closed"),
        ReconcilerState.FAILED,
        ChangesetState.CLOSED,
    ),
]


@pytest.mark.parametrize(
    ("publish", "observed", "reconciler", "expected"),
    [s[1:] for s in STATES],
    ids=[s[0] for s in STATES],
)
def test_derived_state(
    publish: bool, observed: Observed, reconciler: ReconcilerState, expected: ChangesetState
) -> None:
    assert derive_state(publish, observed, reconciler) is expected


def test_desired_and_observed_round_trip_through_json() -> None:
    assert Desired.from_json(DESIRED.to_json()) == DESIRED
    assert Observed.from_json(OPEN.to_json()) == OPEN
    assert Observed.from_json({"pr_number": 3, "unknown": 1}) == Observed(pr_number=3)
