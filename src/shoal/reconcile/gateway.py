"""The reconciler's port to GitHub: one method per row of the operation table
(`reconcile.plan.OPERATIONS`), each returning the observed state it produced and the
mutations GitHub saw (`domain.mutations.Mutation`), for the audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from shoal.domain.changesets import Changeset, Observed
from shoal.domain.mutations import Mutation

__all__ = ["FailedWriteError", "GitHubWriter", "Mutation", "Result"]

Result = tuple[Observed, list[Mutation]]


class FailedWriteError(Exception):
    """A writer step failed after GitHub saw some of its requests (a push it refused, a PR
    call answered 403): the reconciler audits `mutations`, then handles `error` as usual."""

    def __init__(self, error: Exception, mutations: list[Mutation]) -> None:
        super().__init__(str(error))
        self.error = error
        self.mutations = mutations


class GitHubWriter(Protocol):
    """What the reconciler does to GitHub for one changeset (the adapter side, per repo).
    `push` takes the Patch file; every other operation reads what it needs from the
    changeset's desired and observed state."""

    def lookup(self, changeset: Changeset) -> Observed | None: ...

    def push(self, changeset: Changeset, patch: Path) -> Result: ...

    def create_pr(self, changeset: Changeset) -> Result: ...

    def update_pr(self, changeset: Changeset) -> Result: ...

    def close_pr(self, changeset: Changeset) -> Result: ...

    def delete_branch(self, changeset: Changeset) -> Result: ...

    def set_labels(self, changeset: Changeset) -> Result: ...

    def remove_labels(self, changeset: Changeset) -> Result: ...

    def request_reviewers(self, changeset: Changeset) -> Result: ...

    def remove_reviewers(self, changeset: Changeset) -> Result: ...

    def set_assignees(self, changeset: Changeset) -> Result: ...

    def remove_assignees(self, changeset: Changeset) -> Result: ...

    def undraft(self, changeset: Changeset) -> Result: ...

    def update_branch(self, changeset: Changeset) -> Result: ...

    def comment(self, changeset: Changeset) -> Result: ...

    def disable_auto_merge(self, changeset: Changeset) -> Result: ...

    def enable_auto_merge(self, changeset: Changeset) -> Result: ...
