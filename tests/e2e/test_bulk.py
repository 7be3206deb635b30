"""Bulk actions end to end against the simulator, with a real worker: a subset published
through `bulk publish`, every draft made ready through `bulk undraft`, and the writes the
reconciler gains for bulk close, comment and rebase. After each, the audit log matches the
simulator's ledger, and the campaign's burndown shows the new states."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.e2e.audit_match import assert_audit_matches_ledger
from tests.e2e.conftest import Stack
from tests.e2e.publishing import FAST, settled
from tests.e2e.test_publish import SPEC, world


def start(stack: Stack, kind: str, **body: Any) -> dict[str, Any]:
    with stack.client() as http:
        response = http.post(f"/campaigns/bump/bulk/{kind}", json=body)
    assert response.status_code == 202, response.text
    return dict(response.json())


def finished(stack: Stack, action_id: int, *, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while (action := stack.get(f"/bulk/{action_id}"))["state"] == "running":
        assert time.monotonic() < deadline, (action, stack.get(f"/bulk/{action_id}/items"))
        time.sleep(0.2)
    return dict(action)


def pulls(stack: Stack) -> dict[str, dict[str, Any]]:
    found = {}
    with stack.sim.http(stack.sim.installation_token()) as gh:
        for n in range(3):
            for pr in gh.get(f"/repos/acme/svc-{n}/pulls", params={"state": "all"}).json():
                found[f"acme/svc-{n}"] = pr
    return found


def test_bulk_publish_a_subset_then_undraft_every_draft(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(world(), **FAST)
    stack.preview(SPEC)

    published = finished(stack, start(stack, "publish", repos=["acme/svc-1"], draft=True)["id"])
    settled(stack, "bump")
    drafts = pulls(stack)
    rest = finished(stack, start(stack, "publish", org="acme", draft=True)["id"])
    settled(stack, "bump")
    ready = finished(stack, start(stack, "undraft")["id"])
    settled(stack, "bump")
    after = pulls(stack)
    burndown = stack.get("/campaigns/bump/burndown", days=1)["days"][-1]["counts"]

    assert (published["state"], published["counts"]) == ("done", {"done": 1})
    assert {r: pr["draft"] for r, pr in drafts.items()} == {"acme/svc-1": True}
    assert rest["counts"] == {"done": 3}
    assert (ready["state"], ready["counts"]) == ("done", {"done": 3})
    assert {r: (pr["state"], pr["draft"]) for r, pr in after.items()} == {
        f"acme/svc-{n}": ("open", False) for n in range(3)
    }
    assert burndown["open"] == 3 and burndown["draft"] == 0
    assert {e["action"] for e in stack.get("/audit", limit=1000)} >= {"bulk.start", "bulk.done"}
    assert_audit_matches_ledger(stack)


def test_bulk_close_closes_the_open_prs(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(world(), **FAST)
    stack.preview(SPEC)
    start(stack, "publish")
    settled(stack, "bump")
    action = finished(stack, start(stack, "close", repos=["acme/svc-0", "acme/svc-2"])["id"])
    found = pulls(stack)

    assert action["counts"] == {"done": 2}
    assert {r: pr["state"] for r, pr in found.items()} == {
        "acme/svc-0": "closed",
        "acme/svc-1": "open",
        "acme/svc-2": "closed",
    }
    assert_audit_matches_ledger(stack)


def test_bulk_comment_posts_one_comment_per_pr(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(world(), **FAST)
    stack.preview(SPEC)
    start(stack, "publish")
    settled(stack, "bump")
    action = finished(stack, start(stack, "comment", body="Friendly reminder")["id"])
    again = finished(stack, start(stack, "comment", body="Friendly reminder")["id"])
    with stack.sim.http(stack.sim.installation_token()) as gh:
        comments = {
            pr["number"]: gh.get(f"/repos/{r}/issues/{pr['number']}/comments").json()
            for r, pr in pulls(stack).items()
        }

    assert action["counts"] == {"done": 3} and again["counts"] == {"done": 3}
    assert all([c["body"] for c in cs] == ["Friendly reminder"] * 2 for cs in comments.values())
    assert_audit_matches_ledger(stack)


def test_bulk_rebase_updates_each_branch_once(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(world(), **FAST)
    stack.preview(SPEC)
    start(stack, "publish")
    settled(stack, "bump")
    action = finished(stack, start(stack, "rebase")["id"])

    assert action["counts"] == {"done": 3}
    assert_audit_matches_ledger(stack)
