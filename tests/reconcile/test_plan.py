"""The planner, table-tested: desired x observed x drift policy -> verdict and operations."""

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
from shoal.reconcile.observe import text_sha256
from shoal.reconcile.plan import OPERATIONS, DriftPolicy, Operation, Verdict, plan

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
    ("commit-mode-changed", dataclasses.replace(DESIRED, commit_mode="api"), OPEN, [P]),
    (
        "new-spec-same-commit",
        dataclasses.replace(
            DESIRED, spec_version=2, spec_hash="e" * 64, commit_message="bump v2", author_name="X"
        ),
        OPEN,
        [],
    ),
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
    assert list(plan(desired, observed).operations) == expected


def test_no_desired_state_means_nothing_to_do() -> None:
    assert plan(None, OPEN).operations == ()


def sha(text: str) -> str:
    return text_sha256(text)


# An open PR as Shoal wrote it and GitHub shows it.
WRITTEN = dataclasses.replace(
    OPEN,
    head_sha=OPEN.branch_sha,
    title_sha256=sha("bump"),
    body_sha256=sha("body"),
    written_title_sha256=sha("bump"),
    written_body_sha256=sha("body"),
    written_labels=("deps",),
    written_reviewers=("alice",),
    written_team_reviewers=("platform",),
    written_assignees=("bob",),
)
FOREIGN = dataclasses.replace(WRITTEN, head_sha="9" * 40)
EDITED = dataclasses.replace(WRITTEN, title_sha256=sha("my own title"))
CONFLICTING = dataclasses.replace(WRITTEN, mergeable="conflicting", base_sha="8" * 40)
OVERWRITE = DriftPolicy("overwrite")
NEW_PR = DriftPolicy("new_pr")
HUMAN = DriftPolicy("needs_human")
MOVED = dataclasses.replace(WRITTEN, base_sha="8" * 40)
BASE_OVERWRITE = DriftPolicy("needs_human", {"base_moved": "overwrite"})
BASE_HUMAN = DriftPolicy("overwrite", {"base_moved": "needs_human"})
W, F, H, N = Verdict.WRITE, Verdict.FINAL, Verdict.NEEDS_HUMAN, Verdict.NEW_PR
UP, RL, RR, RA = (
    Operation.UPDATE_PR,
    Operation.REMOVE_LABELS,
    Operation.REMOVE_REVIEWERS,
    Operation.REMOVE_ASSIGNEES,
)
CL, DB, UB, CM = (
    Operation.CLOSE_PR,
    Operation.DELETE_BRANCH,
    Operation.UPDATE_BRANCH,
    Operation.COMMENT,
)

DRIFT_CASES = [
    ("in-sync-as-written", DESIRED, WRITTEN, HUMAN, W, [], None),
    ("template-title-changed", dataclasses.replace(DESIRED, title="bump v2"), WRITTEN, HUMAN, W,
     [UP], None),
    ("spec-dropped-label-reviewer-assignee",
     dataclasses.replace(DESIRED, labels=(), reviewers=(), team_reviewers=(), assignees=()),
     WRITTEN, HUMAN, W, [RL, RR, RA], None),
    ("human-label-is-kept", DESIRED, dataclasses.replace(WRITTEN, labels=("deps", "mine")),
     HUMAN, W, [], None),
    ("foreign-commits-needs-human", DESIRED, FOREIGN, HUMAN, H, [], "foreign_commits"),
    ("foreign-commits-overwrite", DESIRED, FOREIGN, OVERWRITE, W, [P], "foreign_commits"),
    ("foreign-commits-new-pr", DESIRED, FOREIGN, NEW_PR, N, [], "foreign_commits"),
    ("title-edited-needs-human", DESIRED, EDITED, HUMAN, H, [], "human_edits"),
    ("title-edited-overwrite", DESIRED, EDITED, OVERWRITE, W, [UP], "human_edits"),
    ("title-edited-new-pr", DESIRED, EDITED, NEW_PR, N, [], "human_edits"),
    ("label-removed-by-human", DESIRED, dataclasses.replace(WRITTEN, labels=()), HUMAN, H, [],
     "human_edits"),
    ("per-kind-override", DESIRED, FOREIGN,
     DriftPolicy("overwrite", {"foreign_commits": "needs_human"}), H, [], "foreign_commits"),
    ("conflicts-needs-human", DESIRED, CONFLICTING, HUMAN, H, [], "merge_conflicts"),
    ("conflicts-overwrite-reexecutes", DESIRED, CONFLICTING, OVERWRITE, W, [], "merge_conflicts"),
    ("conflicts-made-again-not-pushed-yet", dataclasses.replace(DESIRED, base_sha="8" * 40),
     CONFLICTING, OVERWRITE, W, [P], "merge_conflicts"),
    ("conflicts-on-current-base", DESIRED,
     dataclasses.replace(CONFLICTING, base_sha=DESIRED.base_sha), OVERWRITE, H, [],
     "merge_conflicts"),
    ("base-moved-no-conflict", DESIRED, MOVED, HUMAN, W, [], None),
    ("base-moved-not-covered-by-default", DESIRED, MOVED, OVERWRITE, W, [], None),
    ("base-moved-overwrite", DESIRED, MOVED, BASE_OVERWRITE, W, [], "base_moved"),
    ("base-moved-overwrite-writes-the-rest-too", dataclasses.replace(DESIRED, labels=("deps", "x")),
     MOVED, BASE_OVERWRITE, W, [L], "base_moved"),
    ("base-moved-needs-human", DESIRED, MOVED, BASE_HUMAN, H, [], "base_moved"),
    ("base-moved-patch-current-there", dataclasses.replace(DESIRED, current_on="8" * 40), MOVED,
     BASE_OVERWRITE, W, [], None),
    ("base-moved-again-past-current", dataclasses.replace(DESIRED, current_on="7" * 40), MOVED,
     BASE_OVERWRITE, W, [], "base_moved"),
    ("conflicts-win-over-base-moved", DESIRED, CONFLICTING, BASE_HUMAN, W, [], "merge_conflicts"),
    ("repo-archived", DESIRED, dataclasses.replace(WRITTEN, repo_status="archived"), OVERWRITE,
     H, [], "repo_archived"),
    ("closed-by-human-is-final", DESIRED, dataclasses.replace(FOREIGN, pr_state="closed"),
     OVERWRITE, F, [], None),
    ("merged-branch-delete-asked", dataclasses.replace(DESIRED, delete_branch=True),
     dataclasses.replace(WRITTEN, pr_state="merged"), HUMAN, F, [DB], None),
    ("bulk-close-and-delete", dataclasses.replace(DESIRED, close=True, delete_branch=True),
     WRITTEN, HUMAN, W, [CL, DB], None),
    ("bulk-close-wins-over-drift", dataclasses.replace(DESIRED, close=True), FOREIGN, HUMAN, W,
     [CL], None),
    ("branch-already-deleted", dataclasses.replace(DESIRED, delete_branch=True),
     dataclasses.replace(WRITTEN, pr_state="closed", branch_deleted=True), HUMAN, F, [], None),
    ("deselected-closed-and-deleted-under-on-close",
     dataclasses.replace(DESIRED, close=True, branch_deletion="on_close"), WRITTEN, HUMAN, W,
     [CL, DB], None),
    ("deselected-closed-branch-kept-under-never", dataclasses.replace(DESIRED, close=True),
     WRITTEN, HUMAN, W, [CL], None),
    ("closed-by-shoal-then-deleted", dataclasses.replace(DESIRED, close=True,
     branch_deletion="on_close"), dataclasses.replace(WRITTEN, pr_state="closed"), HUMAN, F,
     [DB], None),
    ("closed-by-a-human-keeps-its-branch", dataclasses.replace(DESIRED,
     branch_deletion="on_close_or_merge"), dataclasses.replace(WRITTEN, pr_state="closed"),
     HUMAN, F, [], None),
    ("merged-deleted-under-on-close-or-merge", dataclasses.replace(DESIRED,
     branch_deletion="on_close_or_merge"), dataclasses.replace(WRITTEN, pr_state="merged"),
     HUMAN, F, [DB], None),
    ("merged-kept-under-on-close", dataclasses.replace(DESIRED, branch_deletion="on_close"),
     dataclasses.replace(WRITTEN, pr_state="merged"), HUMAN, F, [], None),
    ("merged-with-a-humans-commit-kept", dataclasses.replace(DESIRED,
     branch_deletion="on_close_or_merge"), dataclasses.replace(FOREIGN, pr_state="merged"),
     HUMAN, F, [], None),
    ("found-with-a-humans-commit-kept-for-good", dataclasses.replace(DESIRED,
     branch_deletion="on_close_or_merge"),
     dataclasses.replace(WRITTEN, pr_state="merged", branch_kept=True), HUMAN, F, [], None),
    ("bulk-close-and-delete-keeps-a-humans-commits",
     dataclasses.replace(DESIRED, close=True, delete_branch=True), FOREIGN, HUMAN, W, [CL],
     None),
    ("bulk-comment", dataclasses.replace(DESIRED, comments=({"key": "k1", "body": "hi"},)),
     WRITTEN, HUMAN, W, [CM], None),
    ("bulk-comment-posted", dataclasses.replace(DESIRED, comments=({"key": "k1", "body": "hi"},)),
     dataclasses.replace(WRITTEN, comments_posted=("k1",)), HUMAN, W, [], None),
    ("bulk-update-branch", dataclasses.replace(DESIRED, update_branch="r1"), WRITTEN, HUMAN, W,
     [UB], None),
    ("bulk-update-branch-done", dataclasses.replace(DESIRED, update_branch="r1"),
     dataclasses.replace(WRITTEN, update_branch_done="r1"), HUMAN, W, [], None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("desired", "observed", "policy", "verdict", "operations", "drift"),
    [c[1:] for c in DRIFT_CASES],
    ids=[c[0] for c in DRIFT_CASES],
)
def test_drift_and_bulk_requests(
    desired: Desired,
    observed: Observed,
    policy: DriftPolicy,
    verdict: Verdict,
    operations: list[Operation],
    drift: str | None,
) -> None:
    decided = plan(desired, observed, policy)
    assert decided.verdict is verdict
    assert list(decided.operations) == operations
    assert (decided.drift.kind if decided.drift else None) == drift


def test_overwritten_conflicts_run_the_steps_again_on_githubs_base() -> None:
    assert plan(DESIRED, CONFLICTING, OVERWRITE).reexecute_on == "8" * 40
    assert plan(DESIRED, CONFLICTING, HUMAN).reexecute_on is None


def test_an_overwritten_moved_base_runs_the_steps_again_on_githubs_tip() -> None:
    assert plan(DESIRED, MOVED, BASE_OVERWRITE).reexecute_on == "8" * 40
    assert plan(DESIRED, MOVED, OVERWRITE).reexecute_on is None  # `default` does not cover it
    current = dataclasses.replace(DESIRED, current_on="8" * 40)
    assert plan(current, MOVED, BASE_OVERWRITE).reexecute_on is None


def test_the_spec_policy_reaches_the_planner_through_the_desired_state() -> None:
    desired = dataclasses.replace(DESIRED, drift={"default": "overwrite", "human_edits": "new_pr"})
    assert plan(desired, FOREIGN).verdict is Verdict.WRITE
    assert plan(desired, EDITED).verdict is Verdict.NEW_PR
    assert plan(dataclasses.replace(DESIRED, drift=None), FOREIGN).verdict is Verdict.NEEDS_HUMAN


SQUASH = dataclasses.replace(DESIRED, auto_merge="squash")
ENABLED = dataclasses.replace(WRITTEN, auto_merge="squash", written_auto_merge="squash")
EA, DA = Operation.ENABLE_AUTO_MERGE, Operation.DISABLE_AUTO_MERGE

AUTO_MERGE_CASES = [
    ("enabled-on-an-open-pr", SQUASH, WRITTEN, [EA]),
    ("not-asked", DESIRED, WRITTEN, []),
    ("already-enabled", SQUASH, ENABLED, []),
    ("turned-off-by-a-human-stays-off", SQUASH, dataclasses.replace(ENABLED, auto_merge=None), []),
    ("a-humans-own-method-is-left", SQUASH, dataclasses.replace(WRITTEN, auto_merge="merge"), []),
    ("spec-turned-it-off", DESIRED, ENABLED, [DA]),
    ("a-humans-auto-merge-is-never-disabled", DESIRED,
     dataclasses.replace(WRITTEN, auto_merge="merge"), []),
    ("changed-by-a-human-is-left", DESIRED, dataclasses.replace(ENABLED, auto_merge="rebase"), []),
    ("method-changed-disables-first", dataclasses.replace(DESIRED, auto_merge="merge"), ENABLED,
     [DA]),
    ("method-changed-then-enabled", dataclasses.replace(DESIRED, auto_merge="merge"), WRITTEN,
     [EA]),
    ("not-on-a-draft", dataclasses.replace(SQUASH, draft=True),
     dataclasses.replace(WRITTEN, draft=True), []),
    ("after-the-draft-is-marked-ready", SQUASH, dataclasses.replace(WRITTEN, draft=True), [U]),
    ("not-on-a-closed-pr", SQUASH, dataclasses.replace(WRITTEN, pr_state="closed"), []),
    ("not-on-a-pr-being-closed", dataclasses.replace(SQUASH, close=True), WRITTEN, [CL]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("desired", "observed", "expected"),
    [c[1:] for c in AUTO_MERGE_CASES],
    ids=[c[0] for c in AUTO_MERGE_CASES],
)
def test_auto_merge(desired: Desired, observed: Observed, expected: list[Operation]) -> None:
    assert list(plan(desired, observed, HUMAN).operations) == expected


def test_a_refused_auto_merge_is_a_warning_not_a_failure() -> None:
    rows = {row.operation: row for row in OPERATIONS}
    assert rows[EA].decoration and rows[DA].decoration


def test_every_operation_has_one_row_and_a_distinct_precedence() -> None:
    assert {row.operation for row in OPERATIONS} == set(Operation)
    assert len({row.precedence for row in OPERATIONS}) == len(OPERATIONS)


def test_an_unknown_drift_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown drift policy"):
        DriftPolicy("yolo")


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


def test_a_flagged_changeset_needs_a_human_until_merged_or_closed() -> None:
    assert derive_state(True, OPEN, ReconcilerState.COMPLETED, needs_human=True) is (
        ChangesetState.NEEDS_HUMAN
    )
    merged = dataclasses.replace(OPEN, pr_state="merged")
    assert derive_state(True, merged, ReconcilerState.COMPLETED, needs_human=True) is (
        ChangesetState.MERGED
    )


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
