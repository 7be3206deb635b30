"""all-repos (unmodified, its console scripts run as a user runs them) against the
simulator over real HTTP: list an organization's and the user's repositories through
``Link`` paging, clone them, grep them, and let ``all-repos-sed`` push branches and open
pull requests.

all-repos clones from each repository's ``ssh_url``; the simulator serves git over HTTP
only, so the user's git configuration rewrites ``git@host:`` to the HTTP URL with the token
(``url.<base>.insteadOf``), as one does to use HTTPS for such a tool.
"""

from __future__ import annotations

import json
import subprocess
import sys
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest

from tests.sim.conftest import BASE_WORLD, RunningSim, git_env

ALICE = "ghp_alice0000000000000000000000000000000"
BIN = Path(sys.executable).parent


def world_with(generated: int) -> dict[str, Any]:
    world = deepcopy(BASE_WORLD)
    world["orgs"][0]["generate"][0]["count"] = generated
    return world


def user_home(sim: RunningSim, home: Path) -> dict[str, str]:
    """A user's git set-up: identity, and `git@127.0.0.1:` rewritten to HTTP with a token."""
    home.mkdir()
    web = sim.url.replace("http://", f"http://x-access-token:{ALICE}@")
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Alice\n\temail = alice@example.com\n"
        f'[url "{web}/"]\n\tinsteadOf = git@127.0.0.1:\n'
        "[init]\n\tdefaultBranch = main\n"
    )
    env = git_env(home)
    for who in ("AUTHOR", "COMMITTER"):  # the identity comes from the user's config
        del env[f"GIT_{who}_NAME"], env[f"GIT_{who}_EMAIL"]
    return env


def write_config(
    path: Path, sim: RunningSim, source: str, include: str = "", **settings: Any
) -> Path:
    """An all-repos config; ``include`` narrows what is cloned, not what is listed."""
    config = {
        "output_dir": "repos",
        "include": include,
        "source": source,
        "source_settings": {"base_url": sim.rest_url, "api_key": ALICE, **settings},
        "push": "all_repos.push.github_pull_request",
        "push_settings": {"username": "alice", "base_url": sim.rest_url, "api_key": ALICE},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config))
    path.chmod(0o600)  # all-repos refuses a config others can read
    return path


def all_repos(tool: str, *args: str, cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(
        [str(BIN / tool), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"{tool} {args}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_clone_pages_past_100_repositories_then_grep(make_sim: Any, tmp_path: Path) -> None:
    sim = make_sim(world_with(110))  # 114 repositories in acme: two pages of 100
    env = user_home(sim, tmp_path / "home")
    org = write_config(
        tmp_path / "org/config.json",
        sim,
        "all_repos.source.github_org",
        org="acme",
        private=True,
        include="^acme/(widgets|docs|empty|svc-10[0-9])$",  # all are listed, a dozen cloned
    )
    all_repos("all-repos-clone", "-C", str(org), "-j", "2", cwd=org.parent, env=env)

    listed = json.loads((org.parent / "repos/repos.json").read_text())
    # forks (every 15th) and archived (every 10th) repositories are left out by default
    generated = {f"acme/svc-{i:03d}" for i in range(1, 111) if i % 10 and i % 15}
    assert set(listed) == {"acme/widgets", "acme/gadgets", "acme/docs", "acme/empty"} | generated
    assert listed["acme/widgets"] == "git@127.0.0.1:acme/widgets"
    assert (org.parent / "repos/acme/svc-107/README.md").read_text() == "# svc-107\n"
    assert (org.parent / "repos/acme/widgets/Dockerfile").read_text() == "FROM python:3.8-slim\n"

    grep = all_repos("all-repos-grep", "-C", str(org), "python:3.8", cwd=org.parent, env=env)
    clones = org.parent / "repos"
    assert grep.splitlines() == [f"{clones}/acme/widgets:Dockerfile:FROM python:3.8-slim"]
    names = all_repos(
        "all-repos-grep", "-C", str(org), "-l", "^# svc-10[0-9]$", cwd=org.parent, env=env
    )
    # 100..109, less the archived 100 and the fork 105
    expected = [
        f"{clones}/acme/svc-{i}:README.md" for i in (101, 102, 103, 104, 106, 107, 108, 109)
    ]
    assert sorted(names.splitlines()) == expected


def test_sed_pushes_branches_and_opens_pull_requests(make_sim: Any, tmp_path: Path) -> None:
    sim = make_sim()
    env = user_home(sim, tmp_path / "home")
    config = write_config(
        tmp_path / "org/config.json",
        sim,
        "all_repos.source.github_org",
        org="acme",
        private=True,
        include="^acme/(widgets|gadgets|docs|svc-00[1-3])$",
    )
    all_repos("all-repos-clone", "-C", str(config), cwd=config.parent, env=env)
    targets = ("widgets", "gadgets", "svc-001")  # widgets' main needs a review: a PR is fine
    out = all_repos(
        "all-repos-sed",
        "-C",
        str(config),
        "--commit-msg",
        "Say who maintains it",
        "--repos",
        *(f"repos/acme/{name}" for name in targets),
        "--",
        r"s/^# \(.*\)$/# \1 (maintained)/",
        "README.md",
        cwd=config.parent,
        env=env,
    )
    for name in targets:
        assert f"Pull request created at {sim.url}/acme/{name}/pull/1" in out

    branch = "all-repos_autofix_all-repos-sed"
    with sim.http(ALICE) as client:
        for name in targets:
            pulls = client.get(f"/repos/acme/{name}/pulls", params={"head": f"acme:{branch}"})
            [pull] = pulls.json()
            assert (pull["number"], pull["title"], pull["draft"]) == (
                1,
                "Say who maintains it",
                False,
            )
            assert pull["body"] == "Committed via https://github.com/asottile/all-repos"
            assert (pull["head"]["ref"], pull["base"]["ref"]) == (branch, "main")
            assert pull["user"]["login"] == "alice"
            tip = client.get(f"/repos/acme/{name}/git/ref/heads/{branch}").json()
            assert pull["head"]["sha"] == tip["object"]["sha"]
            [changed] = client.get(f"/repos/acme/{name}/pulls/1/files").json()
            assert (changed["filename"], changed["additions"]) == ("README.md", 1)
        untouched = client.get("/repos/acme/docs/pulls", params={"state": "all"}).json()
        assert untouched == []
        merged = client.put("/repos/acme/gadgets/pulls/1/merge", json={"merge_method": "squash"})
        assert merged.status_code == 200, merged.text

    # Run again, clone brings the default branches up to date
    all_repos("all-repos-clone", "-C", str(config), cwd=config.parent, env=env)
    readme = config.parent / "repos/acme/gadgets/README.md"
    assert readme.read_text() == "# gadgets (maintained)\n"


@pytest.mark.parametrize("ghes", [False, True], ids=["github.com", "ghes"])
def test_the_users_repositories(make_sim: Any, tmp_path: Path, ghes: bool) -> None:
    sim = make_sim(ghes=ghes)  # GHES: all-repos' base_url is http://host/api/v3
    env = user_home(sim, tmp_path / "home")
    mine = write_config(
        tmp_path / "user/config.json",
        sim,
        "all_repos.source.github",
        username="alice",
        private=True,
        include="^acme/docs$",
    )
    all_repos("all-repos-clone", "-C", str(mine), cwd=mine.parent, env=env)
    listed = json.loads((mine.parent / "repos/repos.json").read_text())
    # alice administers every acme repository and belongs to no other organization
    assert len(listed) == 39 and all(name.startswith("acme/") for name in listed)
    out = all_repos("all-repos-list-repos", "-C", str(mine), cwd=mine.parent, env=env)
    assert out.splitlines() == ["acme/docs"]
    assert (mine.parent / "repos/acme/docs/index.md").read_text() == "hello\n"
