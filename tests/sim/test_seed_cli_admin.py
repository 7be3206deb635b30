"""Seeding from the example YAML, the ``serve`` command and the scenario API."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from shoal_sim.admin import framework
from shoal_sim.client import SimClientError
from shoal_sim.config import SimConfig
from shoal_sim.seed import apply_seed, load_seed_file
from shoal_sim.simulator import Simulator
from tests.sim.conftest import RunningSim

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sim-acme.yaml"


def test_example_seed_builds_the_world(tmp_path: Path) -> None:
    sim = Simulator(SimConfig(tmp_path / "sim"))
    result = apply_seed(sim, load_seed_file(EXAMPLE))
    assert result.repos == 4 + 240 + 1 + 60
    world = sim.world
    assert len(world.repos_of("acme")) == 244
    svc = world.get_repo("acme", "svc-004")
    assert (svc.default_branch, svc.language) == ("master", "Java")
    assert world.get_repo("acme", "svc-012").archived
    assert world.get_repo("acme", "svc-025").fork
    assert world.get_repo("acme", "payments").protection["main"].required_status_checks == [
        "ci/test"
    ]
    git = sim.git.open(svc.id)
    readme = git.read_object(git.ls_tree("master", path="README.md")[0].sha)
    assert readme is not None and b"The svc-004 service (Java)" in readme[1]
    lite = next(a for a in result.apps if a["slug"] == "shoal-lite")
    assert "workflows" not in lite["permissions"]
    assert set(next(a for a in result.apps if a["slug"] == "shoal")["installations"]) == {
        "acme",
        "globex",
    }


def test_serve_prints_connection_json_first(tmp_path: Path, octokit_schemas: Path) -> None:
    seed = tmp_path / "seed.yaml"
    document = yaml.safe_load(EXAMPLE.read_text())
    for org in document["orgs"]:
        for block in org["generate"]:
            block["count"] = 3
    seed.write_text(yaml.safe_dump(document))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shoal_sim",
            "serve",
            "--seed",
            str(seed),
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "data"),
            "-o",
            "json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["rest_url"] == info["web_url"]
        assert info["graphql_url"] == info["rest_url"] + "/graphql"
        assert set(info["installations"]) == {"acme", "globex"}
        key = Path(info["private_key_path"])
        assert key.stat().st_mode & 0o777 == 0o600
        assert key.read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")
        headers = {"authorization": f"token {info['user']['token']}"}
        repo = httpx.get(f"{info['rest_url']}/repos/acme/payments", headers=headers, timeout=10)
        assert repo.status_code == 200
        graphql = httpx.post(
            info["graphql_url"], headers=headers, json={"query": "{viewer{login}}"}
        )
        assert graphql.status_code == 200, graphql.text
        assert {"data", "errors"} & set(graphql.json()), graphql.text
        admin = httpx.get(
            f"{info['admin_url']}/info",
            timeout=10,
            headers={"authorization": f"Bearer {info['admin_token']}"},
        )
        assert admin.json()["repos"] == 11
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_scenario_api(sim: RunningSim) -> None:
    admin = sim.admin
    token = sim.installation_token()
    sha = admin.push_commit("acme", "widgets", {"NOTES.md": "by alice\n"}, author="alice")
    with sim.http(token) as client:
        head = client.get("/repos/acme/widgets/branches/main").json()["commit"]
        admin.rename_repo("acme", "gadgets", "gizmos")
        renamed = client.get("/repos/acme/gizmos").json()
        admin.archive_repo("acme", "gizmos")
        archived = client.post(
            "/repos/acme/gizmos/git/refs", json={"ref": "refs/heads/x", "sha": sha}
        )
        admin.delete_repo("acme", "docs")
        deleted = client.get("/repos/acme/docs")
        admin.set_faults(error_rate=1.0, error_status=503)
        faulted = client.get("/repos/acme/widgets")
        admin.clear_faults()
    assert head["sha"] == sha
    assert head["author"]["login"] == "alice"
    assert renamed["name"] == "gizmos"
    assert archived.status_code == 403
    assert deleted.status_code == 404
    assert faulted.status_code == 503
    operations = [e["operation"] for e in admin.ledger()]
    assert "POST /repos/{owner}/{repo}/git/refs" in operations
    admin.clear_ledger()
    assert admin.ledger() == []
    with pytest.raises(SimClientError):
        admin.create_repo("nobody", "x")


def test_admin_api_requires_the_token(make_sim: Callable[..., RunningSim]) -> None:
    sim = make_sim({"orgs": [{"login": "solo"}]})
    assert httpx.get(f"{sim.url}/_sim/ledger").status_code == 401
    sim.admin.create_repos("solo", 25, files={"README.md": "# $name\n"})
    with sim.http("ghp_none") as client:
        assert client.get("/orgs/solo/repos").status_code == 401


def test_an_oversized_scenario_body_is_refused_with_413(
    make_sim: Callable[..., RunningSim], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(framework, "MAX_ADMIN_BODY_BYTES", 1024)
    sim = make_sim({"orgs": [{"login": "solo"}]})
    headers = {"authorization": f"Bearer {sim.sim.config.admin_token}"}

    def seed(org: str, padding: int) -> dict[str, Any]:
        return {"orgs": [{"login": org, "repos": [{"name": "r", "description": "x" * padding}]}]}

    with httpx.Client(base_url=f"{sim.url}/_sim", headers=headers, timeout=30) as client:
        fits = client.post("/seed", json=seed("fits", 10))
        big = json.dumps(seed("big", 2000)).encode()
        declared = client.post("/seed", content=big)
        # without a content-length (chunked), the body is cut off as it arrives
        streamed = client.post("/seed", content=iter([big[:700], big[700:]]))
    assert fits.status_code == 201, fits.text
    for refused in (declared, streamed):
        assert refused.status_code == 413, refused.text
        assert refused.json()["message"] == "Request Entity Too Large"
    assert "content-length" not in streamed.request.headers
    assert [repo.name for repo in sim.sim.world.repos_of("fits")] == ["r"]
    assert sim.sim.world.repos_of("big") == []


def test_the_largest_benchmark_seed_fits_the_scenario_api() -> None:
    # bench/sim.py's 5,000 repositories, every one written out with its files: 2.0 MiB
    per_repo = {
        "name": "svc-00000",
        "language": "Python",
        "default_branch": "main",
        "files": {
            "README.md": "# svc-00000\nThe svc-00000 service (Python), built from main.\n",
            ".github/workflows/ci.yml": "name: ci\non: [push, pull_request]\njobs:\n"
            "  build:\n    runs-on: ubuntu-latest\n    steps:\n"
            "      - uses: actions/checkout@v3\n      - run: make test\n",
            "Dockerfile": "FROM python:3.8-slim\n",
            "requirements.txt": "requests==2.25.1\n",
        },
    }
    document = {"orgs": [{"login": "bench", "repos": [per_repo] * 5000}]}
    assert len(json.dumps(document).encode()) * 8 < framework.MAX_ADMIN_BODY_BYTES
