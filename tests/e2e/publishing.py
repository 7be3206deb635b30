"""Driving a publish end to end: a worker thread for the preview, the publish request, the
campaign's changesets polled until they settle, one changeset read back from the store, and
one changeset's reconcile task run in the test's thread with a doctored GitHub writer, so that
a test can crash it between two steps on purpose and check the audit log for what was lost."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shoal.domain.changesets import Changeset, ChangesetId, Observed
from shoal.domain.tasks import OutcomeKind
from shoal.runtime.workers import WorkerComponents, start_worker_thread
from shoal.services.publishing import RECONCILE_TASK
from shoal.services.reconciling import GitHubWriter, Mutation, run_reconcile_task
from shoal.store import changesets as changeset_store
from shoal.store import tasks as task_store
from tests.e2e.conftest import Stack

__all__ = [
    "CREATE_PR",
    "FAST",
    "PUSH",
    "Changesets",
    "Crash",
    "CreateStep",
    "DoctoredWriter",
    "PushStep",
    "Unrecorded",
    "changesets",
    "publish",
    "reconcile_once",
    "settled",
    "stored",
    "until",
    "without",
    "worker_thread",
]

# Shoal's gap between two mutations, shortened: these tests are not about GitHub's pacing.
FAST: dict[str, float] = {"github_min_write_interval_s": 0.05}
# Operations as the simulator's ledger names them.
PUSH = "git push"
CREATE_PR = "POST /repos/{owner}/{repo}/pulls"

Changesets = dict[str, dict[str, Any]]  # a campaign's changesets as the API shows them, by repo
CreateStep = Callable[[GitHubWriter, Changeset], tuple[Observed, list[Mutation]]]
PushStep = Callable[[GitHubWriter, Changeset, Path], tuple[Observed, list[Mutation]]]


@contextmanager
def worker_thread(stack: Stack) -> Iterator[None]:
    """A worker for a while (a preview), so that the test can then run handlers itself."""
    stop = threading.Event()
    thread = start_worker_thread(stack.api.ctx, stop)
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()


def publish(stack: Stack, campaign: str, **body: Any) -> dict[str, Any]:
    """Publish the campaign (`body`: the request's options) and return the API's answer."""
    with stack.client() as http:
        response = http.post(f"/campaigns/{campaign}/publish", json=body)
    assert response.status_code == 202, response.text
    return dict(response.json())


def changesets(stack: Stack, campaign: str) -> Changesets:
    """The campaign's changesets now, by repo."""
    return {c["repo"]: c for c in stack.get(f"/campaigns/{campaign}/changesets")}


def until(
    stack: Stack, campaign: str, done: Callable[[Changesets], bool], *, timeout_s: float = 120
) -> Changesets:
    """The campaign's changesets (by repo) once `done` says so."""
    deadline = time.monotonic() + timeout_s
    while not done(found := changesets(stack, campaign)):
        assert time.monotonic() < deadline, [
            (r, c["state"], c["reconciler_state"], c["budget_eta"], c["failure_message"])
            for r, c in found.items()
        ]
        time.sleep(0.2)
    return found


def settled(stack: Stack, campaign: str, *, timeout_s: float = 120) -> Changesets:
    """The campaign's changesets once the reconciler has nothing left to do for any of them."""
    return until(
        stack,
        campaign,
        lambda cs: all(c["reconciler_state"] in {"completed", "failed"} for c in cs.values()),
        timeout_s=timeout_s,
    )


def interrupted(stack: Stack) -> list[tuple[str, str]]:
    """(repo, operation) of each write the audit log says a worker died in."""
    return [
        (e["repo"], e["details"]["operation"])
        for e in stack.get("/audit", action="github.mutation.interrupted", limit=1000)
    ]


def stored(stack: Stack, changeset_id: int) -> Changeset:
    """The changeset as the store holds it, its observed state included."""
    with stack.api.ctx.db.transaction() as conn:
        return changeset_store.get_changeset(conn, ChangesetId(changeset_id))


# -- running the reconcile handler with a doctored writer ------------------------------------


class Crash(BaseException):
    """The worker dies here: the test's stand-in for a SIGKILL between two steps. Not an
    `Exception`, so that no handler of the worker's sees it, as none would see a kill."""


class DoctoredWriter:
    """The real writer, except for the steps the test replaces; a replacement gets the real
    writer, to call it before crashing or after changing the world."""

    def __init__(
        self,
        real: GitHubWriter,
        *,
        push: PushStep | None = None,
        create: CreateStep | None = None,
    ) -> None:
        self._real = real
        self._push = push
        self._create = create

    def __getattr__(self, name: str) -> object:
        # Every other gateway method of the real writer, as it is.
        return getattr(self._real, name)

    def lookup(self, changeset: Changeset) -> Observed | None:
        return self._real.lookup(changeset)

    def push(self, changeset: Changeset, patch: Path) -> tuple[Observed, list[Mutation]]:
        if self._push is None:
            return self._real.push(changeset, patch)
        return self._push(self._real, changeset, patch)

    def create_pr(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]:
        if self._create is None:
            return self._real.create_pr(changeset)
        return self._create(self._real, changeset)

    def set_labels(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]:
        return self._real.set_labels(changeset)

    def request_reviewers(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]:
        return self._real.request_reviewers(changeset)

    def set_assignees(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]:
        return self._real.set_assignees(changeset)

    def undraft(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]:
        return self._real.undraft(changeset)


def reconcile_once(
    stack: Stack,
    changeset_id: int,
    *,
    push: PushStep | None = None,
    create: CreateStep | None = None,
) -> OutcomeKind:
    """Run the queued reconcile task of one changeset in this thread, as a worker would, with
    its push or PR create replaced (see `DoctoredWriter`); the queued task stays for the
    real worker."""
    with stack.api.ctx.db.transaction() as conn:
        [*_, task] = task_store.list_tasks(
            conn,
            task_store.TaskFilter(kinds=(RECONCILE_TASK,), dedupe_key=f"changeset:{changeset_id}"),
        )
    parts = WorkerComponents(stack.api.ctx)
    try:
        deps = dataclasses.replace(
            parts.reconcile,
            writer=lambda: DoctoredWriter(parts.writer(), push=push, create=create),
        )
        return run_reconcile_task(deps, task).kind
    finally:
        parts.close()


# -- the ledger as Shoal could have audited it -----------------------------------------------


@dataclasses.dataclass
class Unrecorded(Stack):
    """The stack, leaving out of its ledger the mutations whose recording the test crashed on
    purpose: GitHub saw them, but the transaction holding their audit rows never committed."""

    lost: frozenset[str | None] = frozenset()  # GitHub's request ids

    def mutations(self) -> list[dict[str, Any]]:
        return [m for m in super().mutations() if m["request_id"] not in self.lost]


def without(stack: Stack, lost: Iterable[str | None]) -> Stack:
    """`stack` for `assert_audit_matches_ledger`, the requests `lost` left out of its ledger."""
    return Unrecorded(stack.sim, stack.api, stack.settings, stack.start_worker, frozenset(lost))
