"""What one changeset's publish costs the database: the reconcile task that pushes its
branch and opens its PR commits few transactions, counted in the worker's thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tests.e2e.audit_match import assert_audit_matches_ledger
from tests.e2e.conftest import Stack
from tests.e2e.publishing import FAST, changesets, publish, reconcile_once, worker_thread

WORLD: dict[str, Any] = {
    "users": [{"login": "alice"}],
    "orgs": [
        {
            "login": "acme",
            "members": {"alice": "admin"},
            "repos": [{"name": "svc", "files": {"README.md": "# svc\n"}}],
        }
    ],
    "apps": [
        {
            "slug": "shoal",
            "permissions": {"contents": "write", "pull_requests": "write", "metadata": "read"},
            "installations": [{"org": "acme"}],
        }
    ],
}
SPEC = """\
name: tx
on:
  - org: acme
steps:
  - name: edit
    run: echo tx >> README.md
changeset:
  title: "tx: edit {{ repo.name }}"
"""


@contextmanager
def transactions(stack: Stack) -> Iterator[list[str]]:
    """The commits and rollbacks of this thread's connections meanwhile."""
    seen: list[str] = []
    me = threading.get_ident()
    engine = stack.api.ctx.db.engine

    def on(kind: str) -> Callable[[Any], None]:
        def record(_: Any) -> None:
            if threading.get_ident() == me:
                seen.append(kind)

        return record

    commit, rollback = on("commit"), on("rollback")
    event.listen(engine, "commit", commit)
    event.listen(engine, "rollback", rollback)
    try:
        yield seen
    finally:
        event.remove(engine, "commit", commit)
        event.remove(engine, "rollback", rollback)


def test_a_changeset_is_published_in_few_transactions(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(WORLD, worker=False, **FAST)
    with worker_thread(stack):
        done = stack.preview(SPEC)
    assert done["progress"]["patch"] == 1, done
    publish(stack, "tx")
    changeset_id = changesets(stack, "tx")["acme/svc"]["id"]
    with transactions(stack) as seen:
        reconcile_once(stack, changeset_id)
    assert changesets(stack, "tx")["acme/svc"]["state"] == "open"
    assert_audit_matches_ledger(stack)
    # The test's own look-up of the task; then the task's start (its state, what rendering
    # reads), the budget claim (with the kill switch and pause), and for the push and for
    # the PR: the gate (the note, the fence), the fence's release, and the record (observed
    # state, audit row; the PR's with the changeset completed). 14 before they were batched.
    assert seen == ["commit"] * 9
