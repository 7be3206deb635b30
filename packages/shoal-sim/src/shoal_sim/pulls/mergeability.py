"""Pure decisions about merging: review decision, merge state, and why a merge is refused.

Everything here is a function of plain inputs gathered by the engine (conflicts from git,
protection, review and check outcomes), so the rules read as tables and are tested as
such. GraphQL's ``MergeStateStatus`` is the source; REST's ``mergeable_state`` is its
lower case.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from shoal_sim.pulls.records import Review
from shoal_sim.state.models import BranchProtection


@dataclass(frozen=True)
class MergeInputs:
    draft: bool
    conflicts: bool | None  # None: not computed yet
    protection: BranchProtection | None
    behind: bool  # the base tip is not contained in the head
    outcomes: dict[str, str] = field(default_factory=dict)  # context -> success|pending|failure
    decision: str | None = None  # review decision
    bypass: bool = False  # an admin who may skip protection (enforce_admins off)


def review_decision(
    protection: BranchProtection | None, reviews: Iterable[Review], writers: set[str]
) -> str | None:
    """GitHub's ``reviewDecision``; ``None`` when the base requires no review."""
    if protection is None or protection.required_approving_review_count is None:
        return None
    latest: dict[str, str] = {}
    for review in reviews:
        if review.state == "COMMENTED":
            continue  # comments neither approve nor clear an earlier verdict
        latest[review.user] = review.state
    verdicts = {user: state for user, state in latest.items() if user in writers}
    if "CHANGES_REQUESTED" in verdicts.values():
        return "CHANGES_REQUESTED"
    approvals = sum(1 for state in verdicts.values() if state == "APPROVED")
    if approvals >= max(protection.required_approving_review_count, 1):
        return "APPROVED"
    return "REVIEW_REQUIRED"


def required_contexts(protection: BranchProtection | None) -> list[str]:
    if protection is None:
        return []
    return list(protection.required_status_checks or [])


def checks_refusal(required: list[str], outcomes: dict[str, str]) -> str | None:
    """Why required checks block a merge, in GitHub's words (as in GH006 push refusals)."""
    missing = [c for c in required if outcomes.get(c) in (None, "pending")]
    failing = [c for c in required if outcomes.get(c) == "failure"]
    if failing:
        if len(failing) == 1:
            return f'Required status check "{failing[0]}" is failing.'
        return f"{len(failing)} of {len(required)} required status checks are failing."
    if missing:
        if len(required) == 1:
            return f'Required status check "{missing[0]}" is expected.'
        return f"{len(missing)} of {len(required)} required status checks are expected."
    return None


def reviews_refusal(protection: BranchProtection | None, decision: str | None) -> str | None:
    if decision is None or decision == "APPROVED" or protection is None:
        return None
    if decision == "CHANGES_REQUESTED":
        return "Changes have been requested on this pull request."
    count = max(protection.required_approving_review_count or 1, 1)
    noun = "approving review is" if count == 1 else "approving reviews are"
    return f"At least {count} {noun} required by reviewers with write access."


def merge_state(inputs: MergeInputs) -> str:  # noqa: PLR0911 - one state per rule, in order
    """``MergeStateStatus``: UNKNOWN, DRAFT, DIRTY, BEHIND, BLOCKED, UNSTABLE or CLEAN."""
    if inputs.conflicts is None:
        return "UNKNOWN"
    if inputs.draft:
        return "DRAFT"
    if inputs.conflicts:
        return "DIRTY"
    rule = inputs.protection
    required = required_contexts(rule)
    if rule is not None and rule.strict and required and inputs.behind:
        return "BEHIND"
    if reviews_refusal(rule, inputs.decision) or checks_refusal(required, inputs.outcomes):
        return "BLOCKED"
    others = [o for c, o in inputs.outcomes.items() if c not in required]
    if any(o != "success" for o in others):
        return "UNSTABLE"
    return "CLEAN"


def merge_refusal(inputs: MergeInputs) -> str | None:
    """The 405 message of ``PUT pulls/{n}/merge``, or ``None`` when the merge may go ahead."""
    if inputs.draft:
        return "Pull Request is still a draft"
    if inputs.conflicts:
        return "Pull Request is not mergeable"
    if inputs.bypass:
        return None
    rule = inputs.protection
    required = required_contexts(rule)
    if rule is not None and rule.strict and required and inputs.behind:
        return "Head branch is not up to date with the base branch"
    return reviews_refusal(rule, inputs.decision) or checks_refusal(required, inputs.outcomes)
