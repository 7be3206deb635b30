"""GitHub auto-merge as the spec asks for it, end to end against the simulator over HTTP with
a real worker: enabled on each PR with the spec's merge method, disabled again when a later
spec version turns it off, and a repository that does not allow it leaves a warning on its
changeset while its PR is otherwise complete. After each, the audit log matches the
simulator's ledger."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.e2e.audit_match import assert_audit_matches_ledger
from tests.e2e.conftest import Stack
from tests.e2e.publishing import FAST, changesets, publish, settled, until
from tests.e2e.test_publish import SPEC, world
from tests.e2e.test_reconcile import pull, quiet

ENABLE = "mutation enablePullRequestAutoMerge"
DISABLE = "mutation disablePullRequestAutoMerge"


def auto_merge_world() -> dict[str, Any]:
    """svc-0 allows auto-merge and its main branch waits for a review (so GitHub has
    something to wait for); svc-1 does not allow auto-merge."""
    found = world(2)
    svc0 = found["orgs"][0]["repos"][0]
    svc0["allow_auto_merge"] = True
    svc0["protection"] = {"default": {"required_approving_review_count": 1}}
    return found


def auto_merge(enabled: bool, method: str = "squash") -> str:
    flag = "true" if enabled else "false"
    return SPEC + f"  auto_merge: {{enabled: {flag}, method: {method}}}\n"


def test_auto_merge_is_enabled_with_the_specs_method_then_disabled_when_turned_off(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(auto_merge_world(), **FAST)
    stack.preview(auto_merge(True, "squash"))
    publish(stack, "bump")
    found = settled(stack, "bump")
    enabled = pull(stack, "acme/svc-0")
    refused = pull(stack, "acme/svc-1")

    assert enabled["auto_merge"]["merge_method"] == "squash"
    assert enabled["auto_merge"]["enabled_by"]["login"] == "shoal[bot]"
    # Not allowed in svc-1: a warning, and the PR is otherwise what the spec asks.
    assert refused["state"] == "open" and refused["auto_merge"] is None
    assert {label["name"] for label in refused["labels"]} == {"dependencies", "shoal"}
    assert found["acme/svc-1"]["state"] == "open"
    (warning,) = found["acme/svc-1"]["warnings"]
    assert warning["operation"] == "enable_auto_merge"
    assert warning["reason"] == "auto_merge_refused"
    assert "Auto merge is not allowed for this repository" in warning["message"]
    assert found["acme/svc-0"]["warnings"] == []
    assert sorted(e["repo"] for e in stack.mutations() if e["operation"] == ENABLE) == [
        "acme/svc-0",
        "acme/svc-1",
    ]
    assert stack.get("/audit", action="changeset.warning", limit=10)
    warned = 'shoal_changesets_warnings{campaign="bump",operation="enable_auto_merge"} 1.0'
    assert warned in httpx.get(f"{stack.api.url}/metrics").text
    assert_audit_matches_ledger(stack)

    with stack.client() as http:
        planned = http.post("/campaigns/plan", json={"spec": auto_merge(False)}).json()
    operations = {c["repo"]: c["operations"] for c in planned["changesets"]}
    assert "disable_auto_merge" in operations["acme/svc-0"]
    assert "disable_auto_merge" not in operations["acme/svc-1"]  # never enabled there

    stack.preview(auto_merge(False))
    publish(stack, "bump")
    until(stack, "bump", lambda cs: all(c["spec_version"] == 2 for c in cs.values()))
    after = quiet(stack)

    assert pull(stack, "acme/svc-0")["auto_merge"] is None
    assert [e["repo"] for e in stack.mutations() if e["operation"] == DISABLE] == ["acme/svc-0"]
    assert {c["state"] for c in after.values()} == {"open"}
    assert all(c["warnings"] == [] for c in after.values())
    assert "shoal_changesets_warnings{" not in httpx.get(f"{stack.api.url}/metrics").text
    assert_audit_matches_ledger(stack)


def test_auto_merge_a_human_enabled_is_left_alone(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(auto_merge_world(), **FAST)
    stack.preview(SPEC)
    publish(stack, "bump")
    settled(stack, "bump")
    number = changesets(stack, "bump")["acme/svc-0"]["pr_number"]
    stack.sim.admin.enable_auto_merge("acme", "svc-0", number, actor="alice", merge_method="merge")
    stack.preview(SPEC.replace("labels: [dependencies, shoal]", "labels: [dependencies]"))
    publish(stack, "bump")
    until(stack, "bump", lambda cs: cs["acme/svc-0"]["spec_version"] == 2)
    quiet(stack)

    assert pull(stack, "acme/svc-0")["auto_merge"]["merge_method"] == "merge"
    assert not [e for e in stack.mutations() if e["operation"] in (ENABLE, DISABLE)]
    assert_audit_matches_ledger(stack)
