"""octokit.js (``@octokit/app`` from npm, unmodified) against a running simulator: the App
JWT flow, the org's installation, installation tokens, Link-header pagination and a
pull-request listing, with both GitHub.com-style and GHES-style (``/api/v3``) base URLs.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.sim.conftest import RunningSim

BRANCH = "octokit/feature"
TITLE = "Bump the widgets"


def open_pull(sim: RunningSim) -> int:
    """A pull request on acme/widgets, made the way a client would: branch, then POST."""
    sim.admin.push_commit(
        "acme", "widgets", {"CHANGELOG.md": "- bumped\n"}, branch=BRANCH, message=TITLE
    )
    with sim.http(sim.installation_token()) as client:
        response = client.post(
            "/repos/acme/widgets/pulls",
            json={"title": TITLE, "head": BRANCH, "base": "main", "draft": True},
        )
    assert response.status_code == 201, response.text
    return int(response.json()["number"])


def run_octokit(js: Path, sim: RunningSim, base_url: str, tmp_path: Path) -> dict[str, Any]:
    app = sim.app()
    key = tmp_path / "app.pem"
    key.write_text(app["private_key_pem"])
    argv = [
        "node",
        str(js / "app-pulls.mjs"),
        f"--base-url={base_url}",
        f"--app-id={app['id']}",
        f"--private-key={key}",
        "--org=acme",
        "--repo=widgets",
        "--per-page=10",
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, f"octokit.js failed:\n{proc.stderr}"
    return dict(json.loads(proc.stdout))


@pytest.mark.parametrize(
    ("ghes", "suffix"),
    [(False, ""), (True, "/api/v3"), (False, "/api/v3")],
    ids=["dotcom", "ghes", "dotcom-mode-ghes-paths"],
)
def test_octokit_app_lists_installation_repos_and_pulls(
    make_sim: Callable[..., RunningSim],
    js_clients: Path,
    tmp_path: Path,
    ghes: bool,
    suffix: str,
) -> None:
    sim = make_sim(ghes=ghes)
    number = open_pull(sim)
    base_url = sim.url + suffix

    out = run_octokit(js_clients, sim, base_url, tmp_path)

    app = sim.app()
    assert out["app"] == {"id": app["id"], "slug": "shoal", "installations_count": 2}
    assert out["installation"] == {
        "id": app["installations"]["acme"],
        "account": "acme",
        "repository_selection": "all",
    }

    repos = out["repositories"]
    acme = sorted(r.name for r in sim.sim.world.repos_of("acme"))
    # 44 repositories over pages of 10: octokit followed every `rel="next"` link.
    assert repos["total_count"] == len(acme) == 44
    assert sorted(name.split("/", 1)[1] for name in repos["full_names"]) == acme
    assert 'rel="next"' in repos["link_first_page"]
    assert repos["link_first_page"].startswith(f"<{base_url}/installation/repositories?")
    assert all(url.startswith(f"{base_url}/repos/acme/") for url in repos["urls"])

    assert out["pulls"] == [
        {
            "number": number,
            "state": "open",
            "draft": True,
            "title": TITLE,
            "head": BRANCH,
            "base": "main",
            "url": f"{base_url}/repos/acme/widgets/pulls/{number}",
        }
    ]


def test_octokit_reports_github_errors(
    make_sim: Callable[..., RunningSim], js_clients: Path, tmp_path: Path
) -> None:
    """A repository outside the installation is a 404 to octokit, as on GitHub."""
    sim = make_sim()
    app = sim.app()
    key = tmp_path / "app.pem"
    key.write_text(app["private_key_pem"])
    argv = [
        "node",
        str(js_clients / "app-pulls.mjs"),
        f"--base-url={sim.url}",
        f"--app-id={app['id']}",
        f"--private-key={key}",
        "--org=globex",
        "--repo=beta",  # globex installs the App on `alpha` only
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    error = json.loads(proc.stderr.strip().splitlines()[-1])["error"]
    assert error["status"] == 404
    assert error["message"] == "Not Found"
