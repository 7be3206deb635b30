"""Check runs and check suites. Only GitHub Apps create and update check runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shoal_sim.errors import GitHubError, not_found
from shoal_sim.pulls.bodies import Bodies
from shoal_sim.pulls.checks import latest_runs
from shoal_sim.pulls.ci import RunFields, create_run, update_run
from shoal_sim.rest import Ctx, Reply, Router
from shoal_sim.routes.pulls import engine
from shoal_sim.routes.statuses import COMMIT, commit_sha
from shoal_sim.state.access import InstallationCaller

router = Router()
RUN = "/repos/{owner}/{repo}/check-runs/{check_run_id}"


def _time(value: Any) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return None


def _fields(body: dict[str, Any]) -> RunFields:
    output = body.get("output") if isinstance(body.get("output"), dict) else {}
    assert isinstance(output, dict)
    return RunFields(
        name=body.get("name"),
        status=body.get("status"),
        conclusion=body.get("conclusion"),
        details_url=body.get("details_url"),
        external_id=body.get("external_id"),
        started_at=_time(body.get("started_at")),
        completed_at=_time(body.get("completed_at")),
        title=output.get("title"),
        summary=output.get("summary"),
        text=output.get("text"),
    )


def _app_id(ctx: Ctx) -> int:
    caller = ctx.caller
    if not isinstance(caller, InstallationCaller):
        raise GitHubError(403, "Resource not accessible by personal access token")
    return caller.app.id


@router.route(
    "POST",
    "/repos/{owner}/{repo}/check-runs",
    docs="checks/runs#create-a-check-run",
    creates_content=True,
)
def post_check_run(ctx: Ctx) -> Reply:
    repo = ctx.repo("checks", "write")
    app_id = _app_id(ctx)
    body = ctx.json_object()
    run = create_run(
        engine(ctx), repo, app_id, str(body.get("head_sha") or ""), ctx.caller.actor, _fields(body)
    )
    return Reply(Bodies(engine(ctx), ctx.urls, repo).check_run(run), 201)


def _run(ctx: Ctx, repo_id: int) -> Any:
    value = ctx.params["check_run_id"]
    run = engine(ctx).checks.runs.get(int(value)) if value.isdigit() else None
    if run is None or run.repo_id != repo_id:
        raise not_found()
    return run


@router.route("PATCH", RUN, docs="checks/runs#update-a-check-run")
def patch_check_run(ctx: Ctx) -> Reply:
    repo = ctx.repo("checks", "write")
    app_id = _app_id(ctx)
    run = _run(ctx, repo.id)
    if run.app_id != app_id:
        raise GitHubError(
            403, f"Invalid app_id `{app_id}` - check run can only be modified by its creator"
        )
    update_run(engine(ctx), repo, run, ctx.caller.actor, _fields(ctx.json_object()))
    return Reply(Bodies(engine(ctx), ctx.urls, repo).check_run(run))


@router.route("GET", RUN, docs="checks/runs#get-a-check-run")
def get_check_run(ctx: Ctx) -> Reply:
    repo = ctx.repo("checks", "read")
    return Reply(Bodies(engine(ctx), ctx.urls, repo).check_run(_run(ctx, repo.id)))


@router.route(
    "GET",
    f"{COMMIT}/check-runs",
    docs="checks/runs#list-check-runs-for-a-git-reference",
    converters={"ref": "path"},
)
def list_check_runs(ctx: Ctx) -> Reply:
    repo = ctx.repo("checks", "read")
    runs = engine(ctx).checks.runs_of(repo.id, commit_sha(ctx, repo))
    if ctx.query.get("filter", "latest") != "all":
        runs = latest_runs(runs)
    runs.sort(key=lambda r: r.id, reverse=True)
    name, status, app = (
        ctx.query.get("check_name"),
        ctx.query.get("status"),
        ctx.query.get("app_id"),
    )
    runs = [
        r
        for r in runs
        if (not name or r.name == name)
        and (not status or r.status == status)
        and (not app or str(r.app_id) == app)
    ]
    reply = ctx.page(runs)
    bodies = Bodies(engine(ctx), ctx.urls, repo)
    reply.body = {"total_count": len(runs), "check_runs": [bodies.check_run(r) for r in reply.body]}
    return reply


@router.route(
    "GET",
    f"{COMMIT}/check-suites",
    docs="checks/suites#list-check-suites-for-a-git-reference",
    converters={"ref": "path"},
)
def list_check_suites(ctx: Ctx) -> Reply:
    repo = ctx.repo("checks", "read")
    found = engine(ctx)
    suites = sorted(found.checks.suites_of(repo.id, commit_sha(ctx, repo)), key=lambda s: s.id)
    app, name = ctx.query.get("app_id"), ctx.query.get("check_name")
    suites = [
        s
        for s in suites
        if (not app or str(s.app_id) == app)
        and (not name or any(r.name == name for r in found.checks.runs_of_suite(s.id)))
    ]
    reply = ctx.page(suites)
    bodies = Bodies(found, ctx.urls, repo)
    reply.body = {
        "total_count": len(suites),
        "check_suites": [bodies.check_suite(s) for s in reply.body],
    }
    return reply


@router.route(
    "GET",
    "/repos/{owner}/{repo}/check-suites/{check_suite_id}",
    docs="checks/suites#get-a-check-suite",
)
def get_check_suite(ctx: Ctx) -> Reply:
    repo = ctx.repo("checks", "read")
    value = ctx.params["check_suite_id"]
    suite = engine(ctx).checks.suites.get(int(value)) if value.isdigit() else None
    if suite is None or suite.repo_id != repo.id:
        raise not_found()
    return Reply(Bodies(engine(ctx), ctx.urls, repo).check_suite(suite))
