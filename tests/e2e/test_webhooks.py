"""Webhooks end to end: the simulator delivers its App's webhooks to Shoal's API over HTTP,
signed; a human closing or merging a PR shows on the changeset within seconds; a delivery
the simulator drops is redelivered by the leader's catch-up. Each test ends comparing the
simulator's mutation ledger with Shoal's audit log (redelivery requests are writes too)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from shoal.github.deliveries import REDELIVER_ROUTE
from shoal.store.tables import webhook_deliveries
from tests.e2e.audit_match import assert_audit_matches_ledger, audited_mutations
from tests.e2e.conftest import Stack
from tests.e2e.publishing import FAST, changesets, publish, settled, until

SECRET = "e2e-webhook-secret"
EVENTS = ["push", "pull_request", "pull_request_review", "check_run", "check_suite", "status"]


def _world(repos: int) -> dict[str, Any]:
    permissions = {
        "contents": "write",
        "pull_requests": "write",
        "metadata": "read",
        "checks": "read",
        "statuses": "read",
    }
    return {
        "users": [{"login": "alice"}],
        "orgs": [
            {
                "login": "acme",
                "members": {"alice": "admin"},
                "repos": [
                    {"name": f"svc-{n:02d}", "files": {"README.md": f"# {n}\n"}}
                    for n in range(repos)
                ],
            }
        ],
        "apps": [
            {
                "slug": "shoal",
                "permissions": permissions,
                "events": EVENTS,
                "installations": [{"org": "acme"}],
            }
        ],
    }


def _spec(name: str) -> str:
    return (
        f"name: {name}\non:\n  - org: acme\nsteps:\n  - name: edit\n"
        f"    run: echo {name} >> README.md\n"
        f'changeset:\n  title: "{name}: edit"\n'
    )


def _published(make_stack: Callable[..., Stack], name: str, repos: int, **settings: Any) -> Stack:
    """A stack whose simulator sends webhooks to Shoal, with `name` published in every repo."""
    stack = make_stack(_world(repos), github_webhook_secret=SecretStr(SECRET), **FAST, **settings)
    app = stack.sim.app()
    stack.sim.admin.set_webhook(
        app["id"], f"{stack.api.url}/api/v1/github/webhooks", secret=SECRET, events=EVENTS
    )
    done = stack.preview(_spec(name))
    assert done["state"] == "done", done
    publish(stack, name)
    found = settled(stack, name)
    assert {c["state"] for c in found.values()} == {"open"}, found
    assert stack.sim.admin.wait_for_webhooks(30)
    return stack


def _received(stack: Stack, event: str, action: str) -> list[dict[str, Any]]:
    with stack.api.ctx.db.transaction() as conn:
        rows = conn.execute(
            webhook_deliveries.select().where(
                webhook_deliveries.c.event == event, webhook_deliveries.c.action == action
            )
        ).mappings()
        return [dict(r) for r in rows]


def test_a_pr_closed_or_merged_by_a_human_shows_within_seconds(
    make_stack: Callable[..., Stack],
) -> None:
    stack = _published(make_stack, "hooked", 2)
    # Shoal's own work came back as webhooks, every one accepted.
    attempts = stack.sim.admin.webhook_deliveries()
    assert attempts and {a["status_code"] for a in attempts} == {202}, attempts
    prs = {repo: c["pr_number"] for repo, c in changesets(stack, "hooked").items()}

    written = len(stack.mutations())
    started = time.monotonic()
    stack.sim.admin.close_pull("acme", "svc-00", prs["acme/svc-00"], actor="alice")
    stack.sim.admin.merge_pull("acme", "svc-01", prs["acme/svc-01"], actor="alice")
    found = until(
        stack,
        "hooked",
        lambda cs: (cs["acme/svc-00"]["state"], cs["acme/svc-01"]["state"]) == ("closed", "merged"),
        timeout_s=15,
    )
    assert time.monotonic() - started < 15
    assert found["acme/svc-00"]["pr_number"] == prs["acme/svc-00"]
    closed = _received(stack, "pull_request", "closed")
    assert sorted(r["repo"] for r in closed) == ["acme/svc-00", "acme/svc-01"]
    assert all(r["outcome"] == "processed" and r["changesets"] == 1 for r in closed), closed
    # The reconcile passes this queued wrote nothing to a closed or merged PR.
    settled(stack, "hooked")
    assert len(assert_audit_matches_ledger(stack)) == written


# What one publish moves, read from the process's registry (the API and the workers run here).
_MOVED = {
    "runs": ("shoal_run_duration_seconds_count", {"kind": "preview"}),
    "opened": ("shoal_pull_requests_opened_total", {"org": "acme"}),
    "webhooks": ("shoal_webhook_lag_seconds_count", {}),
    "reconciles": ("shoal_reconcile_lag_seconds_count", {}),
}


def _moved() -> dict[str, float]:
    return {key: REGISTRY.get_sample_value(*sample) or 0.0 for key, sample in _MOVED.items()}


def test_a_publish_moves_the_run_publish_webhook_and_reconcile_metrics(
    make_stack: Callable[..., Stack],
) -> None:
    before = _moved()
    stack = _published(make_stack, "measured", 2)
    after = _moved()
    moved = {key: after[key] - before[key] for key in after}
    assert moved["runs"] == 1, moved  # the preview run, once, by its last execution
    assert moved["opened"] == 2, moved
    assert moved["webhooks"] >= 2, moved  # at least the two pull_request "opened"
    assert moved["reconciles"] >= 2, moved
    with httpx.Client(base_url=stack.api.url, timeout=30) as http:
        text = http.get("/metrics").text
    gauges = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert gauges[("shoal_publish_budget_used_prs", (("org", "acme"),))] == 2
    cap = gauges[("shoal_publish_budget_prs", (("org", "acme"),))]
    assert cap == stack.api.ctx.settings.max_prs_per_day_per_org


def test_a_dropped_delivery_is_redelivered_by_the_catch_up(
    make_stack: Callable[..., Stack],
) -> None:
    stack = _published(
        make_stack,
        "dropped",
        1,
        github_webhook_catchup_interval_s=1.0,
        github_webhook_catchup_grace_s=0.0,
    )
    (changeset,) = changesets(stack, "dropped").values()
    stack.sim.admin.set_webhook_faults(drop_next=1, event="pull_request")
    stack.sim.admin.close_pull("acme", "svc-00", changeset["pr_number"], actor="alice")
    assert stack.sim.admin.wait_for_webhooks(30)
    attempts = [
        a
        for a in stack.sim.admin.webhook_deliveries(event="pull_request")
        if a["action"] == "closed"
    ]
    assert [a["status_code"] for a in attempts] == [0], attempts  # dropped: never sent

    until(stack, "dropped", lambda cs: cs["acme/svc-00"]["state"] == "closed", timeout_s=30)
    (row,) = _received(stack, "pull_request", "closed")
    assert (row["guid"], row["outcome"]) == (attempts[0]["guid"], "processed")
    again = [
        a
        for a in stack.sim.admin.webhook_deliveries(event="pull_request")
        if a["action"] == "closed"
    ]
    assert [(a["status_code"], a["redelivery"]) for a in again] == [(0, False), (202, True)]
    requests = [
        e
        for e in audited_mutations(stack)
        if e["details"]["operation"] == f"POST {REDELIVER_ROUTE}"
    ]
    assert len(requests) == 1 and requests[0]["details"]["delivery"] == row["guid"]
    assert_audit_matches_ledger(stack)
