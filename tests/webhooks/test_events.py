"""What each event does to the changesets it concerns, delivered over HTTP and processed as
a worker would: pull requests closed, merged, pushed to and read out of order; pushes to a
base branch; checks; installations and repositories that go away, come back or move."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shoal.reconcile import text_sha256
from shoal.services.publishing import RECONCILE_TASK
from shoal.services.syncing import QUEUE_SYNCS_TASK, SYNC_TASK, queue_due_syncs
from tests.webhooks.conftest import Hooks

REPO = {"id": 1001, "name": "widgets", "full_name": "acme/widgets", "owner": {"login": "acme"}}
INSTALLATION = {"id": 11, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMTE="}
HEAD = "a" * 40


def _pull(number: int = 7, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "number": number,
        "node_id": f"PR_{number}",
        "state": "open",
        "draft": False,
        "merged": False,
        "head": {"ref": "shoal/bump", "sha": HEAD},
        "base": {"ref": "main", "sha": "b" * 40},
        "html_url": f"https://github.test/acme/widgets/pull/{number}",
        "title": "bump",
        "body": "body",
        "labels": [{"name": "shoal"}],
        "requested_reviewers": [],
        "requested_teams": [],
        "assignees": [],
        "updated_at": "2026-12-07T12:00:00Z",
    }
    return body | fields


def _deliver(hooks: Hooks, event: str, **payload: Any) -> dict[str, Any]:
    envelope = {"repository": REPO, "installation": INSTALLATION} | payload
    response = hooks.post(event, envelope)
    assert response.status_code == 202, response.text
    hooks.process()
    row = hooks.deliveries()[-1]
    assert row["outcome"] in ("processed", "ignored"), row["outcome_detail"]
    return row


def test_a_pr_closed_by_a_human_is_closed_and_the_reconciler_told(hooks: Hooks) -> None:
    cid = hooks.seed(pr_number=7, pr_state="open", head_sha=HEAD)
    row = _deliver(
        hooks,
        "pull_request",
        action="closed",
        pull_request=_pull(state="closed", updated_at="2026-12-07T12:05:00Z"),
    )
    assert (row["outcome"], row["changesets"]) == ("processed", 1)
    observed = hooks.changeset(cid).observed
    assert (observed.pr_state, observed.pr_updated_at) == ("closed", "2026-12-07T12:05:00Z")
    assert hooks.changeset(cid).state.value == "closed"
    assert hooks.reconciles() == {cid}


def test_a_merged_pr_is_merged(hooks: Hooks) -> None:
    cid = hooks.seed(pr_number=7, pr_state="open")
    merged = _pull(state="closed", merged=True, merged_at="2026-12-07T12:05:00Z")
    _deliver(hooks, "pull_request", action="closed", pull_request=merged)
    assert hooks.changeset(cid).state.value == "merged"


def test_an_older_reading_does_not_undo_a_newer_one(hooks: Hooks) -> None:
    """Deliveries run in parallel: `opened` may be processed after `closed`."""
    cid = hooks.seed(pr_number=7, pr_state="open")
    closed = _pull(state="closed", updated_at="2026-12-07T12:05:00Z")
    _deliver(hooks, "pull_request", action="closed", pull_request=closed)
    row = _deliver(hooks, "pull_request", action="opened", pull_request=_pull())
    assert row["outcome"] == "ignored"
    assert hooks.changeset(cid).observed.pr_state == "closed"


def test_a_title_edited_by_a_human_is_seen(hooks: Hooks) -> None:
    cid = hooks.seed(pr_number=7, pr_state="open", title_sha256=text_sha256("bump"))
    edited = _pull(title="my title", updated_at="2026-12-07T12:01:00Z")
    _deliver(hooks, "pull_request", action="edited", pull_request=edited)
    assert hooks.changeset(cid).observed.title_sha256 == text_sha256("my title")
    assert cid in hooks.reconciles()


def test_auto_merge_enabled_and_disabled_are_seen(hooks: Hooks) -> None:
    cid = hooks.seed(pr_number=7, pr_state="open")
    auto = {"enabled_by": {"login": "alice"}, "merge_method": "rebase", "commit_title": "t"}
    on = _pull(auto_merge=auto, updated_at="2026-12-07T12:01:00Z")
    _deliver(hooks, "pull_request", action="auto_merge_enabled", pull_request=on)
    enabled = hooks.changeset(cid).observed.auto_merge
    off = _pull(auto_merge=None, updated_at="2026-12-07T12:02:00Z")
    _deliver(hooks, "pull_request", action="auto_merge_disabled", pull_request=off)
    assert (enabled, hooks.changeset(cid).observed.auto_merge) == ("rebase", None)


def test_a_pr_of_a_branch_shoal_does_not_follow_is_ignored(hooks: Hooks) -> None:
    hooks.seed(pr_number=7)
    other = _pull(number=8, head={"ref": "feature/x", "sha": HEAD})
    row = _deliver(hooks, "pull_request", action="opened", pull_request=other)
    assert (row["outcome"], row["changesets"]) == ("ignored", 0)
    assert hooks.reconciles() == set()


def test_a_review_keeps_what_its_pull_request_does_not_say(hooks: Hooks) -> None:
    cid = hooks.seed(pr_number=7, pr_state="open", draft=True)
    simple = _pull(updated_at="2026-12-07T12:02:00Z")
    del simple["draft"], simple["merged"]
    _deliver(
        hooks,
        "pull_request_review",
        action="submitted",
        review={"state": "approved"},
        pull_request=simple,
    )
    observed = hooks.changeset(cid).observed
    assert observed.draft is True
    assert observed.pr_updated_at == "2026-12-07T12:02:00Z"
    # The review decision is read by a sync of the PR soon.
    assert set(hooks.syncs_soon()) == {cid}


def test_a_foreign_commit_on_the_campaign_branch_is_its_new_head(hooks: Hooks) -> None:
    cid = hooks.seed(pr_number=7, pr_state="open", head_sha=HEAD, branch_sha=HEAD)
    foreign = "f" * 40
    _deliver(hooks, "push", ref="refs/heads/shoal/bump", before=HEAD, after=foreign)
    assert hooks.changeset(cid).observed.head_sha == foreign
    assert hooks.changeset(cid).observed.branch_sha == HEAD  # what Shoal pushed: kept
    assert hooks.reconciles() == {cid}


def test_a_moved_base_branch_is_recorded_on_its_open_changesets(hooks: Hooks) -> None:
    # Only a campaign that names a base_moved policy acts on a moved base: its changeset
    # is reconciled, the other's only records the new tip.
    open_id = hooks.seed(
        pr_number=7, pr_state="open", base_sha="b" * 40, drift={"base_moved": "needs_human"}
    )
    left = hooks.seed(branch="shoal/left", pr_number=8, pr_state="open", base_sha="b" * 40)
    merged_id = hooks.seed(branch="shoal/other", pr_number=9, pr_state="merged")
    elsewhere = hooks.seed(branch="shoal/dev", base_branch="develop", pr_number=10)
    hooks.clear_reconciles()
    row = _deliver(hooks, "push", ref="refs/heads/main", before="b" * 40, after="c" * 40)
    assert row["changesets"] == 2
    assert hooks.changeset(open_id).observed.base_sha == "c" * 40
    assert hooks.changeset(left).observed.base_sha == "c" * 40
    assert hooks.changeset(merged_id).observed.base_sha is None
    assert hooks.changeset(elsewhere).observed.base_sha is None
    assert hooks.reconciles() == {open_id}


def test_a_moved_base_under_overwrite_wakes_its_changeset_once_the_steps_may_run_again(
    hooks: Hooks,
) -> None:
    later = hooks.api.ctx.clock.now() + timedelta(minutes=30)
    waiting = hooks.seed(
        pr_number=7,
        pr_state="open",
        base_sha="b" * 40,
        drift={"base_moved": "overwrite"},
        reexecute_after=later.isoformat(),
    )
    due = hooks.seed(
        branch="shoal/due",
        pr_number=8,
        pr_state="open",
        base_sha="b" * 40,
        drift={"base_moved": "overwrite"},
    )
    hooks.clear_reconciles()
    _deliver(hooks, "push", ref="refs/heads/main", before="b" * 40, after="c" * 40)
    runs_at = {
        int(t["payload"]["changeset_id"]): t["run_after"]
        for t in hooks.tasks(RECONCILE_TASK)
        if t["state"] == "queued"
    }
    assert set(runs_at) == {waiting, due}
    assert runs_at[due] <= hooks.api.ctx.clock.now()
    assert abs((runs_at[waiting] - later).total_seconds()) < 2


def test_tags_and_deleted_branches_are_ignored(hooks: Hooks) -> None:
    hooks.seed(pr_number=7, pr_state="open")
    hooks.clear_reconciles()
    tag = _deliver(hooks, "push", ref="refs/tags/v1", after="c" * 40)
    gone = _deliver(hooks, "push", ref="refs/heads/main", after="0" * 40, deleted=True)
    assert (tag["outcome"], gone["outcome"]) == ("ignored", "ignored")
    assert hooks.reconciles() == set()


def test_checks_are_recorded_on_the_pr_whose_head_they_ran_on(hooks: Hooks) -> None:
    cid = hooks.seed(pr_number=7, pr_state="open", head_sha=HEAD)
    other = hooks.seed(branch="shoal/other", pr_number=8, head_sha="e" * 40)
    suite = {"head_sha": HEAD, "status": "completed", "conclusion": "failure"}
    _deliver(hooks, "check_suite", action="completed", check_suite=suite)
    assert hooks.changeset(cid).observed.checks == "failure"
    run = {"head_sha": HEAD, "status": "in_progress", "conclusion": None}
    _deliver(hooks, "check_run", action="created", check_run=run)
    assert hooks.changeset(cid).observed.checks == "pending"
    _deliver(hooks, "status", sha=HEAD, state="success", context="ci")
    assert hooks.changeset(cid).observed.checks == "success"
    _deliver(hooks, "status", sha=HEAD, state="error", context="ci")
    assert hooks.changeset(cid).observed.checks == "failure"
    assert hooks.changeset(other).observed.checks is None
    # The checks rollup itself comes from a sync of the PR soon after, however many events.
    assert set(hooks.syncs_soon()) == {cid}


def test_checks_on_many_prs_are_read_in_one_sync(hooks: Hooks) -> None:
    heads = ["c" * 40, "d" * 40, "e" * 40]
    ids = [
        hooks.seed(branch=f"shoal/b{n}", pr_number=n, head_sha=sha, pr_node_id=f"PR_{n}")
        for n, sha in enumerate(heads)
    ]
    for sha in heads:
        _deliver(hooks, "status", sha=sha, state="pending", context="ci")
    (queue,) = hooks.tasks(QUEUE_SYNCS_TASK)  # one for the burst
    assert queue["state"] == "queued"
    assert set(hooks.syncs_soon()) == set(ids)
    # When it runs (what its handler does), every PR due by then or within the same delay
    # after is read, in one batch of the installation.
    ctx = hooks.api.ctx
    ahead_s = queue["payload"]["ahead_s"]
    queue_due_syncs(ctx.db, ctx.settings, now=queue["run_after"], ahead_s=ahead_s)
    (sync,) = hooks.tasks(SYNC_TASK)
    assert (sync["payload"]["installation_id"], sorted(sync["payload"]["changeset_ids"])) == (
        11,
        sorted(ids),
    )


def test_an_installation_deleted_flags_its_changesets_until_it_is_back(hooks: Hooks) -> None:
    cid = hooks.seed(pr_number=7, pr_state="open", installation_id=11)
    elsewhere = hooks.seed("globex/alpha", installation_id=12, pr_number=3)
    hooks.clear_reconciles()
    _deliver(hooks, "installation", action="suspend")
    assert hooks.changeset(cid).observed.repo_status == "inaccessible"
    assert hooks.changeset(elsewhere).observed.repo_status is None
    assert hooks.reconciles() == {cid}
    _deliver(hooks, "installation", action="unsuspend")
    assert hooks.changeset(cid).observed.repo_status is None


def test_a_repository_removed_from_the_installation_is_inaccessible(hooks: Hooks) -> None:
    cid = hooks.seed(pr_number=7)
    kept = hooks.seed("acme/gadgets", repo_github_id=1002, pr_number=4)
    removed = [{"id": 1001, "full_name": "acme/widgets", "name": "widgets"}]
    _deliver(
        hooks,
        "installation_repositories",
        action="removed",
        repositories_removed=removed,
        repositories_added=[],
    )
    assert hooks.changeset(cid).observed.repo_status == "inaccessible"
    assert hooks.changeset(kept).observed.repo_status is None
    _deliver(
        hooks,
        "installation_repositories",
        action="added",
        repositories_added=removed,
        repositories_removed=[],
    )
    assert hooks.changeset(cid).observed.repo_status is None


def test_archived_and_deleted_repositories_are_flagged(hooks: Hooks) -> None:
    cid = hooks.seed(pr_number=7, pr_state="open")
    _deliver(hooks, "repository", action="archived")
    assert hooks.changeset(cid).observed.repo_status == "archived"
    assert cid in hooks.reconciles()
    _deliver(hooks, "repository", action="unarchived")
    assert hooks.changeset(cid).observed.repo_status is None
    _deliver(hooks, "repository", action="deleted")
    assert hooks.changeset(cid).observed.repo_status == "deleted"
    _deliver(hooks, "repository", action="unarchived")  # clears only what it set
    assert hooks.changeset(cid).observed.repo_status == "deleted"


def test_a_renamed_or_transferred_repository_keeps_its_changesets(hooks: Hooks) -> None:
    cid = hooks.seed("acme/widgets", repo_github_id=None, pr_number=7)
    renamed = REPO | {"name": "gizmos", "full_name": "acme/gizmos"}
    _deliver(
        hooks,
        "repository",
        action="renamed",
        repository=renamed,
        changes={"repository": {"name": {"from": "widgets"}}},
    )
    changeset = hooks.changeset(cid)
    assert (changeset.repo, changeset.repo_github_id) == ("acme/gizmos", 1001)
    moved = REPO | {"full_name": "globex/gizmos", "name": "gizmos", "owner": {"login": "globex"}}
    _deliver(
        hooks,
        "repository",
        action="transferred",
        repository=moved,
        installation={"id": 12},
        changes={"owner": {"from": {"organization": {"login": "acme"}}}},
    )
    changeset = hooks.changeset(cid)
    assert (changeset.repo, changeset.org, changeset.installation_id) == (
        "globex/gizmos",
        "globex",
        12,
    )


def test_an_unreadable_payload_is_recorded_as_failed_and_not_retried(hooks: Hooks) -> None:
    response = hooks.post("pull_request", {"action": "opened", "repository": REPO})
    assert response.status_code == 202
    (outcome,) = hooks.process()
    assert outcome.kind.value == "dead"
    (row,) = hooks.deliveries()
    assert row["outcome"] == "failed"
    assert "pull_request" in row["outcome_detail"]
    # A redelivery of a failed delivery is processed again.
    guid = row["guid"]
    assert hooks.post("pull_request", {"repository": REPO}, guid=guid).status_code == 200
    assert len(hooks.process()) == 1
