"""``status``, ``simple-commit-status``, ``combined-commit-status``, ``check-run`` and
``check-suite`` bodies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shoal_sim.clock import iso
from shoal_sim.state.models import Repo
from shoal_sim.urls import Urls

if TYPE_CHECKING:
    from shoal_sim.pulls.records import CheckRun, CheckSuite, CommitStatus


def _avatar(urls: Urls, creator: dict[str, Any] | None) -> str | None:
    return creator["avatar_url"] if creator else None


def simple_status(
    urls: Urls, repo: Repo, found: CommitStatus, creator: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "url": f"{urls.repo_api(repo.full_name)}/statuses/{found.sha}",
        "avatar_url": _avatar(urls, creator),
        "id": found.id,
        "node_id": found.node_id,
        "state": found.state,
        "description": found.description,
        "target_url": found.target_url,
        "context": found.context,
        "created_at": iso(found.created_at),
        "updated_at": iso(found.updated_at),
    }


def status(
    urls: Urls, repo: Repo, found: CommitStatus, creator: dict[str, Any] | None
) -> dict[str, Any]:
    return {**simple_status(urls, repo, found, creator), "creator": creator}


def combined(
    urls: Urls,
    repo: Repo,
    sha: str,
    state: str,
    statuses: list[dict[str, Any]],
    repo_body: dict[str, Any],
) -> dict[str, Any]:
    api = urls.repo_api(repo.full_name)
    return {
        "state": state,
        "statuses": statuses,
        "sha": sha,
        "total_count": len(statuses),
        "repository": repo_body,
        "commit_url": f"{api}/commits/{sha}",
        "url": f"{api}/commits/{sha}/status",
    }


def check_run(
    urls: Urls,
    repo: Repo,
    run: CheckRun,
    app: dict[str, Any] | None,
    pulls: list[dict[str, Any]],
) -> dict[str, Any]:
    api = urls.repo_api(repo.full_name)
    return {
        "id": run.id,
        "head_sha": run.head_sha,
        "node_id": run.node_id,
        "external_id": run.external_id or "",
        "url": f"{api}/check-runs/{run.id}",
        "html_url": f"{urls.repo_html(repo.full_name)}/runs/{run.id}",
        # Without one, GitHub points at the App's page.
        "details_url": run.details_url or (app["html_url"] if app else None),
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": iso(run.started_at),
        "completed_at": iso(run.completed_at) if run.completed_at else None,
        "output": {
            "title": run.title,
            "summary": run.summary,
            "text": run.text,
            "annotations_count": 0,
            "annotations_url": f"{api}/check-runs/{run.id}/annotations",
        },
        "name": run.name,
        "check_suite": {"id": run.suite_id},
        "app": app,
        "pull_requests": pulls,
    }


def check_suite(
    urls: Urls,
    repo: Repo,
    suite: CheckSuite,
    state: tuple[str, str | None],
    runs: int,
    app: dict[str, Any] | None,
    head_commit: dict[str, Any],
    repo_body: dict[str, Any],
    pulls: list[dict[str, Any]],
) -> dict[str, Any]:
    api = urls.repo_api(repo.full_name)
    return {
        "id": suite.id,
        "node_id": suite.node_id,
        "head_branch": suite.head_branch,
        "head_sha": suite.head_sha,
        "status": state[0],
        "conclusion": state[1],
        "url": f"{api}/check-suites/{suite.id}",
        "before": None,
        "after": suite.head_sha,
        "pull_requests": pulls,
        "app": app,
        "repository": repo_body,
        "created_at": iso(suite.created_at),
        "updated_at": iso(suite.updated_at),
        "head_commit": head_commit,
        "latest_check_runs_count": runs,
        "check_runs_url": f"{api}/check-suites/{suite.id}/check-runs",
        "rerequestable": True,
        "runs_rerequestable": True,
    }


def pull_minimal(
    urls: Urls, repo: Repo, ident: int, number: int, head: tuple[str, str], base: tuple[str, str]
) -> dict[str, Any]:
    api = urls.repo_api(repo.full_name)
    side_repo = {"id": repo.id, "url": api, "name": repo.name}
    return {
        "id": ident,
        "number": number,
        "url": f"{api}/pulls/{number}",
        "head": {"ref": head[0], "sha": head[1], "repo": side_repo},
        "base": {"ref": base[0], "sha": base[1], "repo": side_repo},
    }
