"""A newcomer's first publish, through the REST API against the simulator: a PR GitHub opened
is open even when it refused a reviewer (a warning, not a failure, asked once), the publish
answer says how many PRs go out today and how many wait for a later day, a paused campaign
gives its budget turns to the others, a kill switch or pause is named in the answer, one
publish request can be followed alone, and changesets are filtered and paged in SQL."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from shoal.domain.auth import Principal, Role
from shoal.domain.budgets import next_window
from shoal.domain.changesets import Changeset, Observed
from shoal.domain.tasks import OutcomeKind
from shoal.github.errors import GitHubUnavailableError
from shoal.runtime.workers import WorkerComponents
from shoal.services import publishing
from shoal.services.publishing import RECONCILE_TASK
from shoal.services.reconciling import Mutation, run_reconcile_task
from shoal.store import tasks as task_store
from tests.e2e.audit_match import assert_audit_matches_ledger
from tests.e2e.conftest import Stack
from tests.e2e.publishing import (
    CREATE_PR,
    FAST,
    DoctoredWriter,
    changesets,
    publish,
    settled,
    stored,
    until,
    worker_thread,
)

REVIEWERS = "POST /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers"


def _world(repos: int, *, team_repos: int | None = None) -> dict[str, Any]:
    """`repos` repositories in acme; the platform team reaches the first `team_repos` of
    them (all by default), so a review asked of it elsewhere is refused with a 422."""
    reached = repos if team_repos is None else team_repos
    return {
        "users": [{"login": "alice"}, {"login": "bob"}],
        "orgs": [
            {
                "login": "acme",
                "members": {"alice": "admin", "bob": "member"},
                "teams": [
                    {
                        "slug": "platform",
                        "members": ["alice"],
                        "repos": {f"svc-{n}": "write" for n in range(reached)},
                    }
                ],
                "repos": [
                    {
                        "name": f"svc-{n}",
                        "collaborators": {"bob": "write"},
                        "files": {"README.md": f"# {n}\n"},
                    }
                    for n in range(repos)
                ],
            }
        ],
        "apps": [
            {
                "slug": "shoal",
                "permissions": {
                    "contents": "write",
                    "pull_requests": "write",
                    "issues": "write",
                    "metadata": "read",
                    "members": "read",
                },
                "installations": [{"org": "acme"}],
            }
        ],
    }


def _spec(name: str, *changeset: str) -> str:
    extra = "".join(f"  {line}\n" for line in changeset)
    return (
        f"name: {name}\non:\n  - org: acme\nsteps:\n  - name: edit\n"
        f"    run: echo {name} >> README.md\n"
        f'changeset:\n  title: "{name}: edit"\n{extra}'
    )


def _preview(stack: Stack, name: str, *changeset: str) -> None:
    done = stack.preview(_spec(name, *changeset))
    assert done["state"] == "done" and done["progress"]["patch"] >= 1, done


def _control(stack: Stack, path: str, on: bool) -> None:
    with stack.client() as http:
        response = http.put(path, json={"on": on, "reason": "e2e"})
    assert response.status_code == 200, response.text


def _count(stack: Stack, operation: str) -> int:
    return sum(1 for m in stack.mutations() if m["operation"] == operation)


# -- 1. what GitHub refuses on an open PR is a warning ----------------------------------------


def test_a_refused_reviewer_leaves_the_pr_open_with_a_warning_asked_once(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(_world(3, team_repos=1), **FAST)
    _preview(stack, "review", "labels: [shoal]", "reviewers: [bob, acme/platform]")
    publish(stack, "review")
    found = settled(stack, "review")

    assert {r: c["state"] for r, c in found.items()} == dict.fromkeys(found, "open")
    assert {c["reconciler_state"] for c in found.values()} == {"completed"}
    assert {c["failure_reason"] for c in found.values()} == {None}
    reached = found["acme/svc-0"]
    assert (reached["warning"], reached["warnings"]) == (None, [])
    for repo in ("acme/svc-1", "acme/svc-2"):
        [warning] = found[repo]["warnings"]
        assert warning["operation"] == "request_reviewers"
        assert warning["reason"] == "github_validation_failed"
        assert "Reviews may only be requested from collaborators" in warning["message"]
        assert found[repo]["warning"].startswith("request_reviewers: ")
    with stack.sim.http(stack.sim.installation_token()) as gh:
        [pr] = gh.get("/repos/acme/svc-1/pulls").json()
    assert [label["name"] for label in pr["labels"]] == ["shoal"]
    assert pr["requested_reviewers"] == []  # GitHub took none of the request

    events = stack.get("/audit", action="changeset.warning", limit=100)
    assert sorted((e["repo"], e["outcome"]) for e in events) == [
        ("acme/svc-1", "warning"),
        ("acme/svc-2", "warning"),
    ]
    assert {e["details"]["operation"] for e in events} == {"request_reviewers"}
    asked = _count(stack, REVIEWERS)
    assert asked == 3  # once per PR: the refused ones are not asked again

    # Publishing again with the same desired state does not ask GitHub again.
    publish(stack, "review")
    again = settled(stack, "review")
    assert {c["state"] for c in again.values()} == {"open"}
    assert again["acme/svc-1"]["warnings"] == found["acme/svc-1"]["warnings"]
    assert _count(stack, REVIEWERS) == asked
    assert len(stack.get("/audit", action="changeset.warning", limit=100)) == 2
    assert_audit_matches_ledger(stack)


class _FlakyReviews(DoctoredWriter):
    """GitHub answers the review request with a 502, as a bad moment would."""

    def request_reviewers(self, changeset: Changeset) -> tuple[Observed, list[Mutation]]:
        raise GitHubUnavailableError("POST requested_reviewers: Server Error", status=502)


def _reconcile_with(stack: Stack, changeset_id: int, writer: type[DoctoredWriter]) -> OutcomeKind:
    with stack.api.ctx.db.transaction() as conn:
        [*_, task] = task_store.list_tasks(
            conn,
            task_store.TaskFilter(kinds=(RECONCILE_TASK,), dedupe_key=f"changeset:{changeset_id}"),
        )
    parts = WorkerComponents(stack.api.ctx)
    try:
        deps = dataclasses.replace(parts.reconcile, writer=lambda: writer(parts.writer()))
        return run_reconcile_task(deps, task).kind
    finally:
        parts.close()


def test_a_server_error_on_the_review_request_is_retried_not_a_warning(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(_world(1), worker=False, **FAST)
    with worker_thread(stack):
        _preview(stack, "flaky", "reviewers: [bob]")
    publish(stack, "flaky")
    changeset_id = changesets(stack, "flaky")["acme/svc-0"]["id"]

    with pytest.raises(GitHubUnavailableError):
        _reconcile_with(stack, changeset_id, _FlakyReviews)
    after = stored(stack, changeset_id)
    assert after.pr_number is not None  # the PR is open...
    assert after.warnings == ()  # ...and a 5xx is no warning: the task is retried
    assert after.reconciler_state.value == "queued"

    assert _reconcile_with(stack, changeset_id, DoctoredWriter) is OutcomeKind.DONE
    done = changesets(stack, "flaky")["acme/svc-0"]
    assert (done["state"], done["warnings"]) == ("open", [])
    with stack.sim.http(stack.sim.installation_token()) as gh:
        [pr] = gh.get("/repos/acme/svc-0/pulls").json()
    assert [u["login"] for u in pr["requested_reviewers"]] == ["bob"]
    assert_audit_matches_ledger(stack)


# -- 2. how many go out today, how many wait ---------------------------------------------------


def test_the_publish_answer_says_how_many_go_out_today_and_how_many_wait(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(_world(5), max_prs_per_day_per_org=2, **FAST)
    _preview(stack, "capped")
    answer = publish(stack, "capped")
    tomorrow = next_window(datetime.now(UTC), "UTC")
    assert (answer["changesets"], answer["today"], answer["later"]) == (5, 2, 3)
    assert datetime.fromisoformat(answer["next_day_starts_at"]) == tomorrow
    assert answer["orgs"] == [
        {
            "org": "acme",
            "cap": 2,
            "used": 0,
            "left": 2,
            "requested": 5,
            "already_open": 0,
            "today": 2,
            "later": 3,
        }
    ]
    assert (answer["killed"], answer["paused"], answer["held"]) == (False, False, [])
    until(
        stack,
        "capped",
        lambda cs: (
            sum(c["budget_eta"] is not None for c in cs.values()) == 3
            and sum(c["state"] == "open" for c in cs.values()) == 2
        ),
    )

    # Again: the two open PRs need no budget, the three others still wait.
    again = publish(stack, "capped")
    assert (again["today"], again["later"], again["already_open"]) == (0, 3, 2)
    assert (again["orgs"][0]["used"], again["orgs"][0]["left"]) == (2, 0)
    events = stack.get("/audit", action="campaign.publish", limit=10)
    assert sorted((e["details"]["today"], e["details"]["later"]) for e in events) == [
        (0, 3),
        (2, 3),
    ]


# -- 3. a paused campaign gives its turns away -----------------------------------------------


def test_a_paused_campaign_does_not_hold_the_org_budget(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(_world(2), max_prs_per_day_per_org=3, **FAST)
    _preview(stack, "held")
    _preview(stack, "free")
    # Both queue before either claims, the paused one first: in turn, it would come first.
    _control(stack, "/controls/kill", True)
    publish(stack, "held")
    _control(stack, "/campaigns/held/pause", True)
    answer = publish(stack, "free")
    assert (answer["today"], answer["later"]) == (2, 0)
    _control(stack, "/controls/kill", False)

    free = settled(stack, "free")
    assert {c["state"] for c in free.values()} == {"open"}, free
    assert {c["budget_eta"] for c in free.values()} == {None}
    held = until(
        stack,
        "held",
        lambda cs: {c["failure_reason"] for c in cs.values()} == {"campaign paused"},
    )
    assert {c["state"] for c in held.values()} == {"scheduled"}
    status = stack.get("/campaigns/free/status")
    assert (status["orgs"][0]["used"], status["orgs"][0]["left"]) == (2, 1)

    # Resumed, it takes what is left today; the rest waits for tomorrow.
    _control(stack, "/campaigns/held/pause", False)
    held = until(
        stack,
        "held",
        lambda cs: (
            sorted(c["state"] == "open" or bool(c["budget_eta"]) for c in cs.values())
            == [True, True]
        ),
    )
    assert sum(c["state"] == "open" for c in held.values()) == 1
    assert _count(stack, CREATE_PR) == 3
    assert_audit_matches_ledger(stack)


# -- 4. a kill switch or pause is named in the answer -----------------------------------------


def test_the_publish_answer_names_a_kill_switch_or_a_pause(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(_world(1), **FAST)
    _preview(stack, "notes")
    _control(stack, "/controls/kill", True)
    killed = publish(stack, "notes")
    assert (killed["killed"], killed["paused"], killed["held"]) == (
        True,
        False,
        ["kill switch (global)"],
    )
    assert stack.get("/campaigns/notes/status")["held"] == ["kill switch (global)"]
    _control(stack, "/controls/kill", False)
    _control(stack, "/campaigns/notes/pause", True)
    paused = publish(stack, "notes")
    assert (paused["killed"], paused["paused"], paused["held"]) == (
        False,
        True,
        ["campaign paused"],
    )
    summary = stack.get("/campaigns/notes/changesets/summary", batch=paused["batch"])
    assert (summary["total"], summary["held"]) == (1, ["campaign paused"])
    assert stack.mutations() == []


# -- 5. one publish request, followed alone --------------------------------------------------


def test_a_publish_request_is_followed_alone(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(_world(3), **FAST)
    _preview(stack, "notes")
    first = publish(stack, "notes", repos=["acme/svc-0", "acme/svc-1"])
    settled(stack, "notes")
    second = publish(stack, "notes", repos=["acme/svc-2"])
    assert second["batch"] != first["batch"]
    assert second["changesets"] == 1
    summary = until_summary(stack, "notes", second["batch"])
    assert (summary["total"], summary["settled"], summary["counts"]) == (1, 1, {"open": 1})
    mine = stack.get("/campaigns/notes/changesets", batch=second["batch"])
    assert [c["repo"] for c in mine] == ["acme/svc-2"]
    everything = stack.get("/campaigns/notes/changesets/summary")
    assert (everything["total"], everything["counts"]) == (3, {"open": 3})


def until_summary(stack: Stack, campaign: str, batch: int) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def done(_: Any) -> bool:
        found.update(stack.get(f"/campaigns/{campaign}/changesets/summary", batch=batch))
        return bool(found["settled"] >= found["total"])

    until(stack, campaign, done)
    return found


# -- 8. states and pages in SQL, and one query for every target --------------------------------


def test_changesets_are_filtered_and_paged_and_an_unknown_state_is_a_clear_422(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(_world(3), **FAST)
    _preview(stack, "notes")
    publish(stack, "notes", repos=["acme/svc-0", "acme/svc-1"])
    settled(stack, "notes")

    with stack.client() as http:
        bad = http.get("/campaigns/notes/changesets", params={"state": ["open", "opened"]})
    assert bad.status_code == 422, bad.text
    error = bad.json()["error"]
    assert "unknown changeset state 'opened'" in error["message"]
    assert "open" in error["details"]["allowed"] and "scheduled" in error["details"]["allowed"]

    assert len(stack.get("/campaigns/notes/changesets", state="open")) == 2
    assert stack.get("/campaigns/notes/changesets", state="failed") == []
    [page1] = stack.get("/campaigns/notes/changesets", limit=1)
    [page2] = stack.get("/campaigns/notes/changesets", limit=1, after=page1["id"])
    assert stack.get("/campaigns/notes/changesets", limit=1, after=page2["id"]) == []
    assert {page1["repo"], page2["repo"]} == {"acme/svc-0", "acme/svc-1"}


@contextmanager
def _statements(stack: Stack) -> Iterator[list[str]]:
    """The SQL statements this thread runs meanwhile (the worker's are left out)."""
    seen: list[str] = []
    me = threading.get_ident()

    def count(*args: Any) -> None:
        if threading.get_ident() == me:
            seen.append(str(args[2]))

    engine = stack.api.ctx.db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def test_publishing_reads_targets_in_one_query_whatever_the_number_of_repos(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(_world(6), worker=False, **FAST)
    with worker_thread(stack):
        _preview(stack, "notes")
    admin = Principal(name="token:test", role=Role.ADMIN, request_id="req")
    sizes = []
    for repos in (["acme/svc-0"], [f"acme/svc-{n}" for n in range(1, 6)]):
        with _statements(stack) as seen:
            publishing.publish(
                stack.api.ctx, "notes", principal=admin, flt=publishing.PublishFilter(tuple(repos))
            )
        # Each changeset's reconcile task is its own insert; nothing else grows with N.
        sizes.append(len([q for q in seen if "INSERT INTO tasks" not in q]))
        assert sum("JOIN targets" in q or "FROM targets" in q for q in seen) == 1, seen
    assert sizes[0] == sizes[1], sizes


def test_a_cancelled_preview_is_not_published(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(_world(1), **FAST)
    _preview(stack, "notes")
    runs = stack.get("/campaigns/notes/runs")
    with stack.client() as http:
        # Cancelling a finished run is refused; the preview stays publishable.
        assert http.post(f"/runs/{runs[0]['id']}/cancel").status_code == 409
        started = stack.start_preview("notes")
        assert http.post(f"/runs/{started['id']}/cancel").status_code == 200
    # As if the cancel had come once its selection finished (no worker runs here).
    with stack.api.ctx.db.transaction() as conn:
        conn.execute(
            sa.text("UPDATE runs SET selection_done_at = now() WHERE id = :id"),
            {"id": started["id"]},
        )
    with stack.client() as http:
        # The earlier, finished preview is the one published, never the cancelled one.
        answer = http.post("/campaigns/notes/publish", json={})
    assert answer.status_code == 202, answer.text
    assert answer.json()["run_id"] == runs[0]["id"]
    assert stack.mutations() == []
