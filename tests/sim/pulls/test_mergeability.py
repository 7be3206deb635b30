"""The merge rules as tables: review decision, merge state and merge refusals, combined
status and checks rollup."""

from __future__ import annotations

import pytest

from shoal_sim.pulls.checks import combined_state, rollup
from shoal_sim.pulls.mergeability import (
    MergeInputs,
    merge_refusal,
    merge_state,
    review_decision,
)
from shoal_sim.pulls.records import CheckRun, CommitStatus, Review
from shoal_sim.state.models import BranchProtection

CHECKED = BranchProtection(required_status_checks=["ci"], required_approving_review_count=1)
STRICT = BranchProtection(required_status_checks=["ci", "e2e"], strict=True)
OK = {"ci": "success"}


def review(user: str, state: str) -> Review:
    return Review(1, "n", user, state, "", "sha", 0.0)


@pytest.mark.parametrize(
    ("protection", "reviews", "expected"),
    [
        (None, [review("dave", "APPROVED")], None),
        (CHECKED, [], "REVIEW_REQUIRED"),
        (CHECKED, [review("dave", "APPROVED")], "APPROVED"),
        (CHECKED, [review("bob", "APPROVED")], "REVIEW_REQUIRED"),
        (CHECKED, [review("dave", "APPROVED"), review("dave", "COMMENTED")], "APPROVED"),
        (
            CHECKED,
            [review("dave", "APPROVED"), review("erin", "CHANGES_REQUESTED")],
            "CHANGES_REQUESTED",
        ),
        (CHECKED, [review("erin", "CHANGES_REQUESTED"), review("erin", "APPROVED")], "APPROVED"),
        (CHECKED, [review("dave", "DISMISSED")], "REVIEW_REQUIRED"),
    ],
    ids=[
        "no-requirement",
        "nothing-yet",
        "approved",
        "reader-approval-does-not-count",
        "comment-keeps-approval",
        "changes-requested-wins",
        "later-approval-replaces",
        "dismissed",
    ],
)
def test_review_decision(
    protection: BranchProtection | None, reviews: list[Review], expected: str | None
) -> None:
    assert review_decision(protection, reviews, {"dave", "erin"}) == expected


@pytest.mark.parametrize(
    ("inputs", "state", "refusal"),
    [
        (MergeInputs(False, None, None, False), "UNKNOWN", None),
        (MergeInputs(True, False, None, False), "DRAFT", "Pull Request is still a draft"),
        (MergeInputs(False, True, None, False), "DIRTY", "Pull Request is not mergeable"),
        (MergeInputs(False, False, None, True), "CLEAN", None),
        (
            MergeInputs(False, False, CHECKED, False, OK, "REVIEW_REQUIRED"),
            "BLOCKED",
            "At least 1 approving review is required by reviewers with write access.",
        ),
        (
            MergeInputs(False, False, CHECKED, False, {}, "APPROVED"),
            "BLOCKED",
            'Required status check "ci" is expected.',
        ),
        (
            MergeInputs(False, False, CHECKED, False, {"ci": "failure"}, "APPROVED"),
            "BLOCKED",
            'Required status check "ci" is failing.',
        ),
        (
            MergeInputs(False, False, STRICT, False, {"ci": "success"}),
            "BLOCKED",
            "1 of 2 required status checks are expected.",
        ),
        (
            MergeInputs(False, False, STRICT, True, {"ci": "success", "e2e": "success"}),
            "BEHIND",
            "Head branch is not up to date with the base branch",
        ),
        (
            MergeInputs(False, False, CHECKED, False, {**OK, "lint": "failure"}, "APPROVED"),
            "UNSTABLE",
            None,
        ),
        (
            MergeInputs(False, False, CHECKED, False, {}, "REVIEW_REQUIRED", bypass=True),
            "BLOCKED",
            None,
        ),
        (MergeInputs(False, False, CHECKED, False, OK, "APPROVED"), "CLEAN", None),
    ],
    ids=[
        "unknown",
        "draft",
        "conflicts",
        "unprotected",
        "needs-review",
        "check-expected",
        "check-failing",
        "n-of-m-expected",
        "strict-behind",
        "optional-check-failing",
        "admin-bypass",
        "clean",
    ],
)
def test_merge_state_and_refusal(inputs: MergeInputs, state: str, refusal: str | None) -> None:
    assert merge_state(inputs) == state
    assert merge_refusal(inputs) == refusal


def status(ident: int, state: str, context: str) -> CommitStatus:
    return CommitStatus(ident, "n", "sha", state, context, None, None, "ci", 0.0, 0.0)


def run(ident: int, name: str, conclusion: str | None) -> CheckRun:
    state = "completed" if conclusion else "in_progress"
    return CheckRun(ident, "n", 1, 1, 1, "sha", name, state, conclusion, 0.0, None)


@pytest.mark.parametrize(
    ("statuses", "runs", "combined", "rolled"),
    [
        ([], [], "pending", None),
        ([status(1, "failure", "ci"), status(2, "success", "ci")], [], "success", "SUCCESS"),
        ([status(1, "success", "ci"), status(2, "error", "e2e")], [], "failure", "ERROR"),
        ([status(1, "success", "ci")], [run(3, "build", None)], "success", "PENDING"),
        ([status(1, "success", "ci")], [run(3, "build", "failure")], "success", "FAILURE"),
        ([], [run(3, "build", "failure"), run(4, "build", "skipped")], "pending", "SUCCESS"),
    ],
    ids=["nothing", "latest-wins", "error", "run-in-progress", "run-failed", "rerun-passed"],
)
def test_combined_status_and_rollup(
    statuses: list[CommitStatus], runs: list[CheckRun], combined: str, rolled: str | None
) -> None:
    assert combined_state(statuses) == combined
    assert rollup(statuses, runs) == rolled
