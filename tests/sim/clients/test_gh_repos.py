"""The real `gh` (Debian's package) on repositories: clone, view (with the README), list an
organization past one page, `gh api --paginate`, and rename, after which gh still reaches
the repository under its old name (GraphQL follows renames, REST redirects, and git
follows the clone URL gh resolves).

gh hands git its own credential helper in place of any other, and that helper answers
only for https, so git authenticates to the plain-HTTP ``github.localhost`` with an
``http.<url>.extraHeader`` in the user's git configuration, which is not a credential
helper and so stays in effect."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sim.clients.gh_proxy import GhProxy
from tests.sim.clients.test_gh_cli import ALICE, gh, run_gh
from tests.sim.conftest import RunningSim, git_env

BULK = 70  # acme's 44 repositories and these make more than gh's page of 100


@pytest.fixture
def proxy(sim: RunningSim) -> Iterator[GhProxy]:
    with GhProxy(sim.url) as running:
        yield running


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A HOME whose git sends alice's token to ``github.localhost``."""
    key, value = "http.http://github.localhost/.extraHeader", f"Authorization: token {ALICE}"
    subprocess.run(
        ["git", "config", "--global", key, value],
        env=git_env(tmp_path),
        check=True,
        timeout=30,
    )
    return tmp_path


def test_gh_clones_views_lists_and_pages_repositories(
    sim: RunningSim, proxy: GhProxy, home: Path
) -> None:
    gh(proxy, home, "repo", "clone", "acme/widgets")
    assert (home / "widgets/README.md").read_text() == "# widgets\nbuilt from master\n"

    view = gh(proxy, home, "repo", "view", "acme/widgets")
    assert "name:\tacme/widgets" in view
    assert "built from master" in view  # the README, read over REST

    sim.admin.create_repos("acme", BULK, name="bulk-{i:03d}", files={"README.md": "# $name\n"})
    total = 44 + BULK
    listed = gh(proxy, home, "repo", "list", "acme", "--limit", "200", "--json", "name")
    names = [item["name"] for item in json.loads(listed)]
    assert len(names) == len(set(names)) == total
    queries = [a for a in proxy.answers if a.path == "/graphql" and b"RepositoryList" in a.body]
    assert len(queries) == 2  # one page of 100, then the rest after its endCursor
    limited = gh(proxy, home, "repo", "list", "acme", "--limit", "105").splitlines()
    assert len(limited) == 105

    paged = gh(proxy, home, "api", "--paginate", "/orgs/acme/repos", "--jq", ".[].name")
    assert sorted(paged.split()) == sorted(names)
    pages = [a.path for a in proxy.answers if a.path.startswith("/orgs/acme/repos")]
    assert len(pages) == 2  # gh asks for 100 a page and follows the Link header
    assert proxy.graphql_problems() == []


def test_gh_renames_a_repository_and_still_reaches_it_by_its_old_name(
    sim: RunningSim, proxy: GhProxy, home: Path
) -> None:
    renamed = run_gh(proxy, home, "repo", "rename", "gizmos", "-R", "acme/widgets", "--yes")
    assert renamed.returncode == 0, renamed.stderr
    patch = [a for a in proxy.answers if a.method == "PATCH"]
    assert [(a.path, json.loads(a.body), a.status) for a in patch] == [
        ("/repos/acme/widgets", {"name": "gizmos"}, 200)
    ]

    shown = gh(proxy, home, "repo", "view", "acme/widgets", "--json", "name,nameWithOwner")
    assert json.loads(shown) == {"name": "gizmos", "nameWithOwner": "acme/gizmos"}
    # followRenames: false turns the old name away, as its schema description says.
    strict = '{repository(owner:"acme",name:"widgets",followRenames:false){name}}'
    with sim.http(ALICE) as alice:
        refused = alice.post("/graphql", json={"query": strict}).json()
    assert refused["data"] == {"repository": None}
    assert refused["errors"][0]["type"] == "NOT_FOUND"
    # REST: 301 to /repositories/{id}, which gh follows with its token.
    assert gh(proxy, home, "api", "repos/acme/widgets", "--jq", ".full_name").strip() == (
        "acme/gizmos"
    )
    gh(proxy, home, "repo", "clone", "acme/widgets", "old-name")
    assert (home / "old-name/README.md").is_file()
    assert "Add notes" not in gh(proxy, home, "pr", "list", "-R", "acme/widgets")

    # Taken names are refused with GitHub's 422.
    taken = run_gh(proxy, home, "repo", "rename", "gadgets", "-R", "acme/gizmos", "--yes")
    assert taken.returncode == 1
    assert "name already exists on this account" in taken.stderr
    assert proxy.graphql_problems() == []


def test_gh_works_inside_a_clone(sim: RunningSim, proxy: GhProxy, home: Path) -> None:
    """In a clone gh finds the repository from its remote and the pull request from the
    current branch; `gh pr list` filters are issue searches."""
    sim.admin.push_commit("acme", "widgets", {"notes.md": "notes\n"}, branch="notes")
    create = ("pr", "create", "-R", "acme/widgets", "--head", "notes", "--title", "Add notes")
    gh(proxy, home, *create, "--body", "Why.", "--label", "bug")
    gh(proxy, home, "repo", "clone", "acme/widgets")
    clone = home / "widgets"
    inside = {"HOME": str(home), "GH_CONFIG_DIR": str(home / "gh")}

    gh(proxy, clone, "pr", "checkout", "1", env=inside)
    assert (clone / "notes.md").read_text() == "notes\n"
    view = gh(proxy, clone, "pr", "view", env=inside)  # the current branch's pull request
    assert "title:\tAdd notes" in view and "labels:\tbug" in view
    status = gh(proxy, clone, "pr", "status", env=inside)
    assert "Current branch\n  #1  Add notes [notes]" in status
    for flags in (("--author", "@me"), ("--label", "bug"), ("--search", "notes in:title")):
        listed = json.loads(gh(proxy, clone, "pr", "list", *flags, "--json", "number", env=inside))
        assert listed == [{"number": 1}], flags
    assert (
        json.loads(
            gh(proxy, clone, "pr", "list", "--label", "wontfix", "--json", "number", env=inside)
        )
        == []
    )
    assert proxy.graphql_problems() == []
