"""A world for pull-request tests: a protected repository (one review and ``ci/test``
required, auto-merge allowed), an unprotected one, a team with write access, a member
without push access and an outsider; plus helpers to push branches and capture events."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shoal_sim.state.pull_events import PullRequestChanged
from tests.sim.conftest import BASE_WORLD, RunningSim, basic_header, run_git

ALICE = "ghp_alice0000000000000000000000000000000"
CAROL = "ghp_carol000000000000000000000000000000000"


def pull_world() -> dict[str, Any]:
    world = copy.deepcopy(BASE_WORLD)
    world["users"].append({"login": "carol", "tokens": [{"token": CAROL}]})
    world["users"].append({"login": "dave", "email": "dave@example.com"})
    acme = world["orgs"][0]
    acme["members"]["dave"] = "member"
    widgets = acme["repos"][0]
    widgets["allow_auto_merge"] = True
    acme["repos"].append(
        {"name": "plain", "files": {"README.md": "# plain\n", "src/app.py": "print('v1')\n"}}
    )
    acme["teams"] = [
        {
            "slug": "core",
            "members": ["alice", "dave"],
            "repos": {"widgets": "push", "plain": "push"},
        }
    ]
    world["apps"][0]["permissions"].update(checks="write", statuses="write", administration="read")
    return world


@pytest.fixture
def psim(make_sim: Callable[..., RunningSim]) -> RunningSim:
    return make_sim(pull_world())


@pytest.fixture
def events(psim: RunningSim) -> list[PullRequestChanged]:
    seen: list[PullRequestChanged] = []
    psim.sim.events.subscribe(PullRequestChanged, seen.append)
    return seen


def branch(sim: RunningSim, repo: str, name: str, files: dict[str, str | None], **kw: Any) -> str:
    """A commit on ``name`` (created from the default branch), pushed "as a human"."""
    return sim.admin.push_commit("acme", repo, files, branch=name, message=f"Change {name}", **kw)


def git_push_branch(sim: RunningSim, token: str, repo: str, name: str, tmp: Path) -> str:
    """Clone, commit and push ``name`` with the real git CLI; returns the pushed sha."""
    work = tmp / f"clone-{repo}-{name.replace('/', '-')}"
    header = basic_header(token)
    run_git("-c", header, "clone", "-q", f"{sim.url}/acme/{repo}.git", str(work), cwd=tmp)
    run_git("checkout", "-q", "-b", name, cwd=work)
    (work / "CHANGELOG.md").write_text(f"- {name}\n")
    run_git("add", "-A", cwd=work)
    run_git("commit", "-q", "-m", f"Add changelog for {name}", cwd=work)
    run_git("-c", header, "push", "-q", "origin", name, cwd=work)
    return run_git("rev-parse", "HEAD", cwd=work).stdout.strip()
