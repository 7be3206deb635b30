"""Keeping published PRs aligned, end to end against the simulator with a real worker: a human
acts on GitHub (the simulator's admin API), Shoal reads the PR over REST and records it
(`services.observing`, as a webhook or the sync would), and the reconciler acts as the
campaign's drift policy says. After each, the audit log matches the simulator's ledger."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from shoal.domain.changesets import ChangesetId
from shoal.github import GitHubApp
from shoal.github.pulls import PullRequests
from shoal.services.observing import observe_pull
from shoal.services.publishing import enqueue_reconciles
from shoal.store import changesets as changeset_store
from tests.e2e.audit_match import assert_audit_matches_ledger
from tests.e2e.conftest import Stack
from tests.e2e.publishing import FAST, Changesets, changesets, publish, settled, stored, until
from tests.e2e.test_publish import SPEC, world


def spec(**policy: str) -> str:
    lines = "".join(f"    {kind}: {value}\n" for kind, value in policy.items())
    return SPEC + (f"policy:\n  drift:\n{lines}" if lines else "")


def published(make_stack: Callable[..., Stack], text: str, repos: int = 2) -> Stack:
    stack = make_stack(world(repos), **FAST)
    stack.preview(text)
    publish(stack, "bump")
    found = settled(stack, "bump")
    assert {c["state"] for c in found.values()} == {"open"}, found
    return stack


def observe(stack: Stack, repo: str) -> None:
    """Read the repo's PR over REST and record it, as a webhook delivery would."""
    found = changesets(stack, "bump")[repo]
    owner, _, name = repo.partition("/")
    ctx = stack.api.ctx
    installation = stored(stack, found["id"]).installation_id
    assert installation is not None
    app = GitHubApp.from_settings(
        ctx.settings, redis_client=ctx.redis, keyring=ctx.keyring, clock=ctx.clock
    )
    try:
        pr = PullRequests(app.installation(installation)).get(owner, name, found["pr_number"])
    finally:
        app.close()
    with ctx.db.transaction() as conn:
        observe_pull(conn, repo, pr, now=ctx.clock.now(), max_attempts=5)


def pull(stack: Stack, repo: str) -> dict[str, Any]:
    owner, _, name = repo.partition("/")
    with stack.sim.http(stack.sim.installation_token()) as gh:
        return dict(gh.get(f"/repos/{owner}/{name}/pulls", params={"state": "all"}).json()[0])


def pulls_of(stack: Stack, repo: str) -> list[dict[str, Any]]:
    owner, _, name = repo.partition("/")
    with stack.sim.http(stack.sim.installation_token()) as gh:
        return list(gh.get(f"/repos/{owner}/{name}/pulls", params={"state": "all"}).json())


def quiet(stack: Stack) -> Changesets:
    time.sleep(0.5)
    return settled(stack, "bump")


def foreign_commit(stack: Stack, repo: str) -> str:
    owner, _, name = repo.partition("/")
    branch = changesets(stack, "bump")[repo]["branch"]
    return stack.sim.admin.push_commit(
        owner, name, {"NOTES.md": "mine\n"}, branch=branch, author="bob", message="mine"
    )


def test_a_foreign_commit_under_needs_human_flags_the_changeset_and_stops(
    make_stack: Callable[..., Stack],
) -> None:
    stack = published(make_stack, spec())
    before = len(stack.mutations())
    sha = foreign_commit(stack, "acme/svc-0")
    observe(stack, "acme/svc-0")
    found = until(stack, "bump", lambda cs: cs["acme/svc-0"]["state"] == "needs_human")
    publish(stack, "bump", repos=["acme/svc-1"])
    quiet(stack)

    assert found["acme/svc-0"]["drift"]["kind"] == "foreign_commits"
    assert found["acme/svc-0"]["drift"]["since"]
    assert pull(stack, "acme/svc-0")["head"]["sha"] == sha  # untouched
    assert len(stack.mutations()) == before  # nothing written for anyone
    assert stack.get("/audit", action="changeset.needs_human", limit=10)
    assert_audit_matches_ledger(stack)


def test_a_foreign_commit_under_overwrite_is_replaced_with_a_lease(
    make_stack: Callable[..., Stack],
) -> None:
    stack = published(make_stack, spec(default="overwrite"))
    pushed = changesets(stack, "bump")["acme/svc-0"]
    foreign = foreign_commit(stack, "acme/svc-0")
    observe(stack, "acme/svc-0")
    time.sleep(1)
    quiet(stack)
    head = pull(stack, "acme/svc-0")["head"]["sha"]
    pushes = list(stack.get("/audit", action="github.mutation", limit=100))

    assert head != foreign
    assert pushed["state"] == "open"
    assert changesets(stack, "bump")["acme/svc-0"]["state"] == "open"
    assert sum(1 for e in pushes if e["details"].get("endpoint") == "git push") == 3
    assert_audit_matches_ledger(stack)


def test_a_foreign_commit_under_new_pr_opens_a_second_pr_linked_to_the_first(
    make_stack: Callable[..., Stack],
) -> None:
    stack = published(make_stack, spec(default="new_pr"))
    first = changesets(stack, "bump")["acme/svc-0"]["pr_number"]
    foreign_commit(stack, "acme/svc-0")
    observe(stack, "acme/svc-0")
    found = until(
        stack,
        "bump",
        lambda cs: (
            cs["acme/svc-0"]["pr_number"] not in (None, first)
            and cs["acme/svc-0"]["reconciler_state"] == "completed"
        ),
    )
    prs = {pr["number"]: pr for pr in pulls_of(stack, "acme/svc-0")}

    assert found["acme/svc-0"]["branch"].endswith("-2")
    assert prs[first]["state"] == "open"  # left alone
    second = prs[found["acme/svc-0"]["pr_number"]]
    assert f"Supersedes #{first}." in second["body"]
    assert_audit_matches_ledger(stack)


def test_a_title_edited_by_a_human_is_restored_under_overwrite_and_flagged_otherwise(
    make_stack: Callable[..., Stack],
) -> None:
    stack = published(make_stack, spec(default="needs_human", human_edits="overwrite"), repos=2)
    title = pull(stack, "acme/svc-0")["title"]
    number = changesets(stack, "bump")["acme/svc-0"]["pr_number"]
    stack.sim.admin.edit_pull("acme", "svc-0", number, title="my title", actor="alice")
    observe(stack, "acme/svc-0")
    until(stack, "bump", lambda cs: pull(stack, "acme/svc-0")["title"] == title)

    assert changesets(stack, "bump")["acme/svc-0"]["state"] == "open"
    assert_audit_matches_ledger(stack)


def test_a_pr_closed_or_merged_by_a_human_is_never_touched_again(
    make_stack: Callable[..., Stack],
) -> None:
    stack = published(make_stack, spec(default="overwrite"))
    cs = changesets(stack, "bump")
    stack.sim.admin.close_pull("acme", "svc-0", cs["acme/svc-0"]["pr_number"], actor="alice")
    stack.sim.admin.merge_pull("acme", "svc-1", cs["acme/svc-1"]["pr_number"], actor="alice")
    observe(stack, "acme/svc-0")
    observe(stack, "acme/svc-1")
    found = until(
        stack,
        "bump",
        lambda c: (c["acme/svc-0"]["state"], c["acme/svc-1"]["state"]) == ("closed", "merged"),
    )
    before = len(stack.mutations())
    publish(stack, "bump")
    quiet(stack)

    assert found["acme/svc-0"]["state"] == "closed"
    assert pull(stack, "acme/svc-0")["state"] == "closed"
    assert len(stack.mutations()) == before
    assert_audit_matches_ledger(stack)


def test_an_archived_repo_needs_a_human(make_stack: Callable[..., Stack]) -> None:
    stack = published(make_stack, spec(default="overwrite"))
    stack.sim.admin.archive_repo("acme", "svc-0")
    # What the `repository archived` webhook records on the changeset, then its pass.
    cid = ChangesetId(changesets(stack, "bump")["acme/svc-0"]["id"])
    ctx = stack.api.ctx
    with ctx.db.transaction() as conn:
        observed = dataclasses.replace(stored(stack, cid).observed, repo_status="archived")
        changeset_store.record_observation(conn, cid, observed, now=ctx.clock.now())
        enqueue_reconciles(conn, [cid], now=ctx.clock.now(), max_attempts=5)
    found = until(stack, "bump", lambda cs: cs["acme/svc-0"]["state"] == "needs_human")

    assert found["acme/svc-0"]["drift"]["kind"] == "repo_archived"
    assert_audit_matches_ledger(stack)


def test_the_spec_template_change_updates_titles_in_place_and_drops_a_label(
    make_stack: Callable[..., Stack],
) -> None:
    stack = published(make_stack, spec())
    changed = (
        spec()
        .replace(
            'title: "ci: bump checkout in {{ repo.name }}"',
            'title: "ci: checkout v4 ({{ repo.name }})"',
        )
        .replace("labels: [dependencies, shoal]", "labels: [dependencies]")
    )
    stack.preview(changed)
    publish(stack, "bump")
    quiet(stack)
    pr = pull(stack, "acme/svc-0")

    assert pr["title"] == "ci: checkout v4 (svc-0)"
    assert [label["name"] for label in pr["labels"]] == ["dependencies"]
    assert changesets(stack, "bump")["acme/svc-0"]["spec_version"] == 2
    assert_audit_matches_ledger(stack)


def test_a_repo_removed_from_the_selection_has_its_pr_closed(
    make_stack: Callable[..., Stack],
) -> None:
    stack = published(make_stack, spec())
    narrower = spec().replace("  - org: acme\n", "  - repos: [acme/svc-1]\n")
    stack.preview(narrower)
    publish(stack, "bump")
    until(stack, "bump", lambda cs: cs["acme/svc-0"]["state"] == "closed")
    quiet(stack)

    assert pull(stack, "acme/svc-0")["state"] == "closed"
    assert pull(stack, "acme/svc-1")["state"] == "open"
    assert_audit_matches_ledger(stack)


def test_max_open_prs_holds_the_rest_with_a_reason(make_stack: Callable[..., Stack]) -> None:
    capped = SPEC + "policy:\n  publish:\n    max_open_prs: 1\n"
    stack = make_stack(world(3), **FAST)
    stack.preview(capped)
    publish(stack, "bump")
    found = until(
        stack,
        "bump",
        lambda cs: (
            sum(c["state"] == "open" for c in cs.values()) == 1
            and sum(c["failure_reason"] == "max_open_prs" for c in cs.values()) == 2
        ),
    )
    waiting = [c for c in found.values() if c["failure_reason"] == "max_open_prs"]
    opened = next(c for c in found.values() if c["state"] == "open")
    owner, _, name = opened["repo"].partition("/")
    stack.sim.admin.merge_pull(owner, name, opened["pr_number"], actor="alice")
    observe(stack, opened["repo"])
    again = until(
        stack,
        "bump",
        lambda cs: (
            [(c["state"], c["reconciler_state"]) for c in cs.values()].count(("open", "completed"))
            == 1
            and sum(c["state"] == "merged" for c in cs.values()) == 1
        ),
    )

    assert all("max_open_prs is 1" in (c["failure_message"] or "") for c in waiting)
    assert sum(c["state"] in {"open", "merged"} for c in again.values()) == 2
    assert_audit_matches_ledger(stack)


def test_no_write_leaves_after_kill_returns_even_from_writers_waiting_for_a_slot_or_turn(
    make_stack: Callable[..., Stack],
) -> None:
    # One mutation in flight per org and slow write pacing: while one writer writes, the
    # others wait for the slot or for their write turn when the kill switch is set.
    stack = make_stack(world(6), github_min_write_interval_s=0.4, max_mutations_in_flight_per_org=1)
    stack.preview(SPEC)
    publish(stack, "bump")
    deadline = time.monotonic() + 60
    while len(stack.mutations()) < 3:
        assert time.monotonic() < deadline, "no write started"
        time.sleep(0.05)
    with stack.client() as http:
        response = http.put("/controls/kill", json={"on": True, "reason": "test"})
    assert response.status_code == 200, response.text
    at_kill = len(stack.mutations())
    time.sleep(4)  # well past several write turns
    after = stack.mutations()
    held = changesets(stack, "bump")

    assert len(after) == at_kill, after[at_kill:]
    assert at_kill < 6 * 5  # the campaign was stopped part way
    assert any(c["reconciler_state"] == "waiting" for c in held.values())
    assert_audit_matches_ledger(stack)
