"""The planner: what the reconciler must do to GitHub, from desired and observed state.

Pure (no I/O) and table-driven. `OPERATIONS` lists every write Shoal can make to a pull
request, each with its precedence (the order writes run in) and a pure `needed(desired,
observed, policy)`; the reconciler (`services.reconciling`) runs each needed operation with
the one gateway method its row names. Adding a GitHub write is one row here and one method
on the gateway.

Before the table is consulted, `plan` decides whether Shoal may touch the PR at all: a
merged or closed PR is final, a repository that stopped being writable needs a human, and a
PR that drifted from what Shoal made (foreign commits, human edits, conflicts, a base that
moved) follows the campaign's drift policy for that kind: `overwrite` goes on (the push
forced with a lease, the template restored, the steps run again on the new base), `new_pr`
leaves the PR alone for a new one, `needs_human` stops. A base that moved is drift only
when the campaign names a policy for it: base branches move all the time.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from shoal.domain.changesets import Desired, Observed
from shoal.reconcile.observe import text_sha256

__all__ = [
    "DRIFT_KINDS",
    "OPERATIONS",
    "Drift",
    "DriftPolicy",
    "Operation",
    "Plan",
    "Row",
    "Verdict",
    "base_moved",
    "detect_drift",
    "plan",
]


class Operation(enum.StrEnum):
    CLOSE_PR = "close_pr"
    DELETE_BRANCH = "delete_branch"
    PUSH = "push"
    CREATE_PR = "create_pr"
    UPDATE_PR = "update_pr"
    SET_LABELS = "set_labels"
    REMOVE_LABELS = "remove_labels"
    REQUEST_REVIEWERS = "request_reviewers"
    REMOVE_REVIEWERS = "remove_reviewers"
    SET_ASSIGNEES = "set_assignees"
    REMOVE_ASSIGNEES = "remove_assignees"
    UNDRAFT = "undraft"
    UPDATE_BRANCH = "update_branch"
    COMMENT = "comment"
    DISABLE_AUTO_MERGE = "disable_auto_merge"
    ENABLE_AUTO_MERGE = "enable_auto_merge"


class Verdict(enum.StrEnum):
    WRITE = "write"  # run `Plan.operations` (possibly none: in sync)
    FINAL = "final"  # merged or closed: nothing but an asked-for branch delete, ever
    NEEDS_HUMAN = "needs_human"  # stop touching the PR; `Plan.drift` says why
    NEW_PR = "new_pr"  # leave this PR alone and open the next one (`-2`, `-3`, ...)


# The kinds of drift a campaign sets a policy for (`policy.drift` in the spec).
DRIFT_KINDS = ("base_moved", "foreign_commits", "human_edits", "merge_conflicts")
_POLICIES = frozenset({"overwrite", "new_pr", "needs_human"})
# Kinds `default` does not cover: only a policy named for them acts on them.
_NAMED_ONLY = frozenset({"base_moved"})


@dataclass(frozen=True, slots=True)
class DriftPolicy:
    """What to do for each kind of drift: `default` unless `overrides` names the kind."""

    default: str = "needs_human"
    overrides: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        for value in (self.default, *(self.overrides or {}).values()):
            if value not in _POLICIES:
                raise ValueError(f"unknown drift policy {value!r}")

    def for_kind(self, kind: str) -> str | None:
        """The policy for `kind`; None for a kind left alone (a base that moved, unless the
        campaign names a policy for it)."""
        overrides = self.overrides or {}
        if kind in _NAMED_ONLY:
            return overrides.get(kind)
        return overrides.get(kind, self.default)

    @classmethod
    def from_desired(cls, desired: Desired) -> DriftPolicy:
        """The campaign's policy as publish stored it (scalar, or `{default, <kind>: ...}`)."""
        value = desired.drift
        if value is None:
            return cls()
        if isinstance(value, str):
            return cls(default=value)
        overrides = {k: v for k, v in value.items() if k != "default"}
        return cls(default=value.get("default", "needs_human"), overrides=overrides)


@dataclass(frozen=True, slots=True)
class Drift:
    """How the PR differs from what Shoal made, and what the policy says about it."""

    kind: str  # one of DRIFT_KINDS, or repo_archived | repo_deleted | repo_inaccessible
    detail: str
    policy: str = "needs_human"

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "detail": self.detail, "policy": self.policy}


@dataclass(frozen=True, slots=True)
class Plan:
    verdict: Verdict
    operations: tuple[Operation, ...] = ()
    drift: Drift | None = None  # the drift met (also under `overwrite`, for the audit log)
    # Conflicts or a moved base overwritten: the steps run again on this base (GitHub's
    # current tip), and their patch is pushed with a lease if it changed. For a moved base,
    # `operations` are what to write meanwhile (when the next run is not due yet).
    reexecute_on: str | None = None


def _open(observed: Observed) -> bool:
    return observed.pr_number is not None and observed.pr_state not in {"closed", "merged"}


def foreign_commits(observed: Observed) -> bool:
    """The branch's head is not the commit Shoal pushed: someone else pushed to it."""
    return (
        observed.head_sha is not None
        and observed.branch_sha is not None
        and observed.head_sha != observed.branch_sha
    )


def human_edits(desired: Desired, observed: Observed) -> str | None:
    """What a human changed of what Shoal wrote (title, body, a label Shoal set), if any."""
    edited = [
        name
        for name, shown, written in (
            ("title", observed.title_sha256, observed.written_title_sha256),
            ("body", observed.body_sha256, observed.written_body_sha256),
        )
        if shown is not None and written is not None and shown != written
    ]
    removed = sorted((set(observed.written_labels) & set(desired.labels)) - set(observed.labels))
    if removed:
        edited.append(f"labels (removed {', '.join(removed)})")
    return ", ".join(edited) or None


def base_moved(desired: Desired, observed: Observed) -> bool:
    """GitHub shows the base branch at a tip that is neither the base Shoal's commit is on
    nor one its steps were run on again and made the same Patch (`Desired.current_on`)."""
    tip = observed.base_sha
    return tip is not None and tip not in (desired.base_sha, desired.current_on)


def detect_drift(desired: Desired, observed: Observed) -> Drift | None:
    """The first drift met, in the order a human would want it handled."""
    if not _open(observed):
        return None
    if foreign_commits(observed):
        return Drift(
            "foreign_commits",
            f"the branch is at {observed.head_sha}, not the commit Shoal pushed "
            f"({observed.branch_sha})",
        )
    if observed.mergeable == "conflicting":
        return Drift("merge_conflicts", f"the PR conflicts with {desired.base_branch}")
    if edited := human_edits(desired, observed):
        return Drift("human_edits", f"edited on GitHub: {edited}")
    if base_moved(desired, observed):
        return Drift(
            "base_moved",
            f"{desired.base_branch} moved to {observed.base_sha}, past the base of Shoal's "
            f"commit ({desired.base_sha})",
        )
    return None


def _shown(shown: str | None, written: str | None) -> str | None:
    return shown if shown is not None else written


# -- the operation table ---------------------------------------------------------------------


def _close(d: Desired, o: Observed, _: DriftPolicy) -> bool:
    return d.close and _open(o)


def _delete_branch(d: Desired, o: Observed, _: DriftPolicy) -> bool:
    if o.branch_sha is None or o.branch_deleted or o.branch_kept or foreign_commits(o):
        return False  # never pushed, gone, or someone else's commits are on it: kept
    if d.delete_branch:  # asked by a bulk close
        return d.close or o.pr_state in {"closed", "merged"}
    if o.pr_state == "merged":
        return d.branch_deletion == "on_close_or_merge"
    # A PR Shoal closes (or closed); one a human closed keeps its branch.
    return d.close and d.branch_deletion != "never"


def _push(d: Desired, o: Observed, policy: DriftPolicy) -> bool:
    if o.push_key != d.push_key:
        return True
    # Overwriting foreign commits: the same commit again, forced with a lease.
    return foreign_commits(o) and policy.for_kind("foreign_commits") == "overwrite"


def _create(_: Desired, o: Observed, __: DriftPolicy) -> bool:
    return o.pr_number is None


def _update(d: Desired, o: Observed, _: DriftPolicy) -> bool:
    if not _open(o) or not d.title:
        return False  # not rendered yet (the reconciler renders before planning)
    if o.adopted:
        return False  # a PR someone else opened for the branch keeps their text
    title = _shown(o.title_sha256, o.written_title_sha256)
    body = _shown(o.body_sha256, o.written_body_sha256)
    if title is None and body is None:
        return False  # never read nor written (rows from before Shoal kept them)
    return title != text_sha256(d.title) or body != text_sha256(d.body)


def _set_labels(d: Desired, o: Observed, _: DriftPolicy) -> bool:
    return bool(set(d.labels) - set(o.labels))


def _remove_labels(d: Desired, o: Observed, _: DriftPolicy) -> bool:
    # Only what Shoal itself set and the spec dropped: a human's own labels stay.
    return _open(o) and bool((set(o.written_labels) - set(d.labels)) & set(o.labels))


def _request_reviewers(d: Desired, o: Observed, _: DriftPolicy) -> bool:
    return bool(
        set(d.reviewers) - set(o.reviewers) or set(d.team_reviewers) - set(o.team_reviewers)
    )


def _remove_reviewers(d: Desired, o: Observed, _: DriftPolicy) -> bool:
    users = (set(o.written_reviewers) - set(d.reviewers)) & set(o.reviewers)
    teams = (set(o.written_team_reviewers) - set(d.team_reviewers)) & set(o.team_reviewers)
    return _open(o) and bool(users or teams)


def _set_assignees(d: Desired, o: Observed, _: DriftPolicy) -> bool:
    return bool(set(d.assignees) - set(o.assignees))


def _remove_assignees(d: Desired, o: Observed, _: DriftPolicy) -> bool:
    return _open(o) and bool((set(o.written_assignees) - set(d.assignees)) & set(o.assignees))


def _undraft(d: Desired, o: Observed, _: DriftPolicy) -> bool:
    created_as_draft = o.pr_number is None and d.draft
    return not d.draft and o.draft and not created_as_draft


def _update_branch(d: Desired, o: Observed, _: DriftPolicy) -> bool:
    return d.update_branch is not None and d.update_branch != o.update_branch_done


def _comment(d: Desired, o: Observed, _: DriftPolicy) -> bool:
    return any(c.get("key") not in o.comments_posted for c in d.comments)


def _disable_auto_merge(d: Desired, o: Observed, _: DriftPolicy) -> bool:
    # Only auto-merge Shoal enabled, still as it enabled it, that the spec no longer asks for
    # (or asks for with another merge method: it is enabled again after).
    written = o.written_auto_merge
    return _open(o) and written is not None and o.auto_merge == written and d.auto_merge != written


def _enable_auto_merge(d: Desired, o: Observed, _: DriftPolicy) -> bool:
    # GitHub refuses auto-merge on a draft: a draft gets it once it is marked ready.
    draft = o.draft if o.pr_number is not None else d.draft
    if d.auto_merge is None or draft or o.auto_merge is not None:
        return False
    # Enabled once per merge method: auto-merge a human turned off stays off.
    return o.written_auto_merge != d.auto_merge


Needed = Callable[[Desired, Observed, DriftPolicy], bool]


@dataclass(frozen=True, slots=True)
class Row:
    operation: Operation
    precedence: int  # lower runs first
    needed: Needed
    # The gateway (`GitHubWriter`) method that performs it; the reconciler calls only this.
    gateway: str
    # Completes an open PR: GitHub refusing its input leaves the PR open with a warning.
    decoration: bool = False


OPERATIONS: tuple[Row, ...] = (
    Row(Operation.CLOSE_PR, 10, _close, "close_pr"),
    Row(Operation.DELETE_BRANCH, 20, _delete_branch, "delete_branch"),
    Row(Operation.PUSH, 30, _push, "push"),
    Row(Operation.CREATE_PR, 40, _create, "create_pr"),
    Row(Operation.UPDATE_PR, 50, _update, "update_pr"),
    Row(Operation.SET_LABELS, 60, _set_labels, "set_labels", decoration=True),
    Row(Operation.REMOVE_LABELS, 61, _remove_labels, "remove_labels", decoration=True),
    Row(Operation.REQUEST_REVIEWERS, 70, _request_reviewers, "request_reviewers", True),
    Row(Operation.REMOVE_REVIEWERS, 71, _remove_reviewers, "remove_reviewers", True),
    Row(Operation.SET_ASSIGNEES, 80, _set_assignees, "set_assignees", decoration=True),
    Row(Operation.REMOVE_ASSIGNEES, 81, _remove_assignees, "remove_assignees", True),
    Row(Operation.UNDRAFT, 90, _undraft, "undraft"),
    Row(Operation.UPDATE_BRANCH, 100, _update_branch, "update_branch"),
    Row(Operation.COMMENT, 110, _comment, "comment"),
    Row(Operation.DISABLE_AUTO_MERGE, 120, _disable_auto_merge, "disable_auto_merge", True),
    Row(Operation.ENABLE_AUTO_MERGE, 121, _enable_auto_merge, "enable_auto_merge", True),
)
ROWS = {row.operation: row for row in OPERATIONS}
assert len(ROWS) == len(Operation), "every operation has exactly one row"

# What may still happen to a merged or closed PR.
_AFTER_FINAL = (Operation.DELETE_BRANCH,)
# What closing a PR needs: nothing else is written to a PR being closed.
_CLOSING = (Operation.CLOSE_PR, Operation.DELETE_BRANCH)


def _needed(
    desired: Desired, observed: Observed, policy: DriftPolicy, only: tuple[Operation, ...] = ()
) -> tuple[Operation, ...]:
    rows = sorted(OPERATIONS, key=lambda r: r.precedence)
    return tuple(
        row.operation
        for row in rows
        if (not only or row.operation in only) and row.needed(desired, observed, policy)
    )


def plan(  # noqa: PLR0911 - one return per verdict
    desired: Desired | None, observed: Observed, policy: DriftPolicy | None = None
) -> Plan:
    """What to do, in the order it must run."""
    if desired is None or not desired.publish:
        return Plan(Verdict.WRITE)
    policy = policy or DriftPolicy.from_desired(desired)
    if observed.pr_state in {"closed", "merged"}:
        # A human closed it (never reopened, never pushed to) or it is merged: final.
        return Plan(Verdict.FINAL, _needed(desired, observed, policy, _AFTER_FINAL))
    if observed.repo_status is not None:
        return Plan(
            Verdict.NEEDS_HUMAN,
            drift=Drift(
                f"repo_{observed.repo_status}", f"the repository is {observed.repo_status}"
            ),
        )
    if desired.close:
        return Plan(Verdict.WRITE, _needed(desired, observed, policy, _CLOSING))
    drift = detect_drift(desired, observed)
    chosen = policy.for_kind(drift.kind) if drift is not None else None
    if drift is not None and chosen is None:
        drift = None  # a kind the campaign leaves alone (a base that moved)
    elif drift is not None and chosen is not None:
        drift = Drift(drift.kind, drift.detail, chosen)
        if chosen == "needs_human":
            return Plan(Verdict.NEEDS_HUMAN, drift=drift)
        if chosen == "new_pr":
            return Plan(Verdict.NEW_PR, drift=drift)
        if drift.kind == "merge_conflicts":
            if base_moved(desired, observed):
                return Plan(Verdict.WRITE, drift=drift, reexecute_on=observed.base_sha)
            if observed.base_sha is None or observed.push_key == desired.push_key:
                # Already pushed on the current base and still conflicting: nothing to
                # overwrite. (Made again but not pushed yet: the push below is the overwrite.)
                return Plan(Verdict.NEEDS_HUMAN, drift=Drift(drift.kind, drift.detail))
    everything = tuple(op for op in _needed(desired, observed, policy) if op not in _CLOSING)
    if drift is not None and drift.kind == "base_moved":
        return Plan(Verdict.WRITE, everything, drift, reexecute_on=observed.base_sha)
    return Plan(Verdict.WRITE, everything, drift)
