"""Commit statuses and check runs as CI reports them, with the events they publish and
the auto-merges they may complete."""

from __future__ import annotations

from dataclasses import dataclass

from shoal_sim.errors import GitHubError, validation_failed
from shoal_sim.pulls import automerge
from shoal_sim.pulls.checks import suite_state
from shoal_sim.pulls.ports import Reporting
from shoal_sim.pulls.records import CheckRun, CheckSuite, CommitStatus
from shoal_sim.state.ledger import Actor
from shoal_sim.state.models import Repo
from shoal_sim.state.pull_events import CheckRunChanged, CheckSuiteChanged, StatusChanged

STATES = ("error", "failure", "pending", "success")
RUN_STATUSES = ("queued", "in_progress", "completed", "waiting", "requested", "pending")
CONCLUSIONS = (
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
)


def resolve_sha(engine: Reporting, repo: Repo, ref: str) -> str:
    sha = engine.git(repo).rev_parse(ref)
    if sha is None:
        raise GitHubError(422, f"No commit found for SHA: {ref}")
    return sha


def create_status(
    engine: Reporting,
    repo: Repo,
    sha: str,
    actor: Actor,
    *,
    state: str,
    context: str = "default",
    description: str | None = None,
    target_url: str | None = None,
) -> CommitStatus:
    if state not in STATES:
        raise validation_failed(
            {
                "resource": "Status",
                "field": "state",
                "code": "custom",
                "message": "state is not included in the list",
            }
        )
    full = resolve_sha(engine, repo, sha)
    ident, node = engine.new_id("status", "StatusContext")
    now = engine.now()
    status = CommitStatus(
        ident, node, full, state, context, description, target_url, engine.login(actor), now, now
    )
    engine.checks.add_status(repo.id, status)
    engine.publish(StatusChanged(repo.id, status.id, full, actor, now))
    automerge.fire_ready(engine, repo)
    return status


@dataclass
class RunFields:
    name: str | None = None
    status: str | None = None
    conclusion: str | None = None
    details_url: str | None = None
    external_id: str | None = None
    started_at: float | None = None
    completed_at: float | None = None
    title: str | None = None
    summary: str | None = None
    text: str | None = None


def _validate(fields: RunFields) -> None:
    if fields.status is not None and fields.status not in RUN_STATUSES:
        raise validation_failed({"resource": "CheckRun", "field": "status", "code": "invalid"})
    if fields.conclusion is not None and fields.conclusion not in CONCLUSIONS:
        raise validation_failed({"resource": "CheckRun", "field": "conclusion", "code": "invalid"})
    if fields.status == "completed" and fields.conclusion is None:
        raise validation_failed(
            {"resource": "CheckRun", "field": "conclusion", "code": "missing_field"}
        )


def _suite(engine: Reporting, repo: Repo, app_id: int, sha: str, actor: Actor) -> CheckSuite:
    with engine.checks.lock:
        found = engine.checks.suite_for(repo.id, app_id, sha)
        if found is not None:
            return found
        ident, node = engine.new_id("check", "CheckSuite")
        now = engine.now()
        branch = next(
            (
                name.removeprefix("refs/heads/")
                for name, at in engine.git(repo).branch_tips()
                if at == sha
            ),
            None,
        )
        suite = CheckSuite(ident, node, repo.id, app_id, sha, branch, now, now)
        engine.checks.suites[ident] = suite
    return suite


def create_run(
    engine: Reporting, repo: Repo, app_id: int, head_sha: str, actor: Actor, fields: RunFields
) -> CheckRun:
    _validate(fields)
    if not fields.name:
        raise validation_failed({"resource": "CheckRun", "field": "name", "code": "missing_field"})
    sha = resolve_sha(engine, repo, head_sha)
    suite = _suite(engine, repo, app_id, sha, actor)
    ident, node = engine.new_id("check", "CheckRun")
    now = engine.now()
    status = "completed" if fields.conclusion else (fields.status or "queued")
    run = CheckRun(
        ident,
        node,
        repo.id,
        suite.id,
        app_id,
        sha,
        fields.name,
        status,
        fields.conclusion,
        fields.started_at or now,
        (fields.completed_at or now) if status == "completed" else None,
        fields.details_url,
        fields.external_id,
        fields.title,
        fields.summary,
        fields.text,
    )
    with engine.checks.lock:
        engine.checks.runs[ident] = run
        suite.updated_at = now
    engine.publish(CheckRunChanged(repo.id, run.id, "created", actor, now))
    _after_change(engine, repo, suite, run, actor, was_completed=False)
    return run


def update_run(
    engine: Reporting, repo: Repo, run: CheckRun, actor: Actor, fields: RunFields
) -> CheckRun:
    _validate(fields)
    was_completed = run.status == "completed"
    now = engine.now()
    with engine.checks.lock:
        for name in ("name", "details_url", "external_id", "title", "summary", "text"):
            value = getattr(fields, name)
            if value is not None:
                setattr(run, name, value)
        if fields.started_at is not None:
            run.started_at = fields.started_at
        if fields.status is not None:
            run.status = fields.status
        if fields.conclusion is not None:
            run.status, run.conclusion = "completed", fields.conclusion
        if run.status == "completed" and run.completed_at is None:
            run.completed_at = fields.completed_at or now
        suite = engine.checks.suites[run.suite_id]
        suite.updated_at = now
    _after_change(engine, repo, suite, run, actor, was_completed=was_completed)
    return run


def _after_change(
    engine: Reporting,
    repo: Repo,
    suite: CheckSuite,
    run: CheckRun,
    actor: Actor,
    *,
    was_completed: bool,
) -> None:
    now = engine.now()
    if run.status == "completed" and not was_completed:
        engine.publish(CheckRunChanged(repo.id, run.id, "completed", actor, now))
        status, _ = suite_state(engine.checks.runs_of_suite(suite.id))
        if status == "completed":
            engine.publish(CheckSuiteChanged(repo.id, suite.id, "completed", actor, now))
    automerge.fire_ready(engine, repo)
