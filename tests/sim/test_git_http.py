"""git smart HTTP with the real git CLI: auth, GitHub's push refusals, events, parallel pushes."""

from __future__ import annotations

import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from shoal_sim.state import PushReceived
from tests.sim.conftest import RunningSim, basic_header, run_git


def _clone(sim: RunningSim, repo: str, token: str, dest: Path) -> Path:
    run_git(
        "-c",
        basic_header(token),
        "clone",
        "--quiet",
        f"{sim.url}/{repo}.git",
        str(dest),
        cwd=dest.parent,
    )
    return dest


def _commit(work: Path, path: str, text: str) -> None:
    target = work / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    run_git("add", "-A", cwd=work)
    run_git("commit", "--quiet", "-m", f"change {path}", cwd=work)


def _token_url(sim: RunningSim, repo: str, token: str) -> str:
    host = sim.url.removeprefix("http://")
    return f"http://x-access-token:{token}@{host}/{repo}.git"


def test_clone_and_push_a_branch(sim: RunningSim, tmp_path: Path) -> None:
    events: list[PushReceived] = []
    sim.sim.events.subscribe(PushReceived, events.append)
    token = sim.installation_token()
    work = _clone(sim, "acme/widgets", token, tmp_path / "widgets")
    assert (work / "Dockerfile").read_text() == "FROM python:3.8-slim\n"
    run_git("checkout", "--quiet", "-b", "shoal/python-3.12", cwd=work)
    _commit(work, "Dockerfile", "FROM python:3.12-slim\n")
    run_git(
        "push", "--quiet", _token_url(sim, "acme/widgets", token), "shoal/python-3.12", cwd=work
    )
    head = run_git("rev-parse", "HEAD", cwd=work).stdout.strip()
    with sim.http(token) as client:
        ref = client.get("/repos/acme/widgets/git/ref/heads/shoal/python-3.12").json()
    assert ref["object"]["sha"] == head
    push = sim.admin.ledger()[-1]
    assert push["operation"] == "git push"
    assert push["actor"]["kind"] == "installation"
    assert push["detail"]["refs"] == [
        {"ref": "refs/heads/shoal/python-3.12", "ok": True, "reason": "", "remote_lines": []}
    ]
    assert len(events) == 1
    assert events[0].via == "git"
    assert events[0].changes[0].after == head
    assert events[0].changes[0].created


def test_protected_branch_push_is_refused_with_gh006(sim: RunningSim, tmp_path: Path) -> None:
    token = sim.installation_token()
    work = _clone(sim, "acme/widgets", token, tmp_path / "widgets")
    _commit(work, "README.md", "# widgets\nbuilt from main\n")
    refused = run_git("-c", basic_header(token), "push", "origin", "main", cwd=work, check=False)
    assert refused.returncode != 0
    assert (
        "remote: error: GH006: Protected branch update failed for refs/heads/main."
        in refused.stderr
    )
    assert "remote: error: Changes must be made through a pull request." in refused.stderr
    assert " ! [remote rejected] main -> main (protected branch hook declined)" in refused.stderr
    assert sim.admin.ledger()[-1]["detail"]["refs"][0]["ok"] is False


def test_workflow_changes_need_the_workflows_permission(sim: RunningSim, tmp_path: Path) -> None:
    token = sim.installation_token(slug="lite")
    work = _clone(sim, "acme/widgets", token, tmp_path / "widgets")
    run_git("checkout", "--quiet", "-b", "bump-checkout", cwd=work)
    _commit(work, ".github/workflows/ci.yml", "uses: actions/checkout@v4\n")
    refused = run_git(
        "push", _token_url(sim, "acme/widgets", token), "bump-checkout", cwd=work, check=False
    )
    assert (
        " ! [remote rejected] bump-checkout -> bump-checkout (refusing to allow a GitHub "
        "App to create or update workflow `.github/workflows/ci.yml` without `workflows` "
        "permission)"
    ) in refused.stderr
    run_git("checkout", "--quiet", "-b", "docs-only", "origin/main", cwd=work)
    _commit(work, "README.md", "docs\n")
    run_git("push", "--quiet", _token_url(sim, "acme/widgets", token), "docs-only", cwd=work)


def test_force_push_ban_is_gh003(sim: RunningSim, tmp_path: Path) -> None:
    token = sim.installation_token()
    work = _clone(sim, "acme/gadgets", token, tmp_path / "gadgets")
    run_git("commit", "--quiet", "--amend", "-m", "rewritten", cwd=work)
    refused = run_git(
        "-c", basic_header(token), "push", "--force", "origin", "main", cwd=work, check=False
    )
    assert "remote: error: GH003: Sorry, force-pushing to main is not allowed." in refused.stderr
    assert " ! [remote rejected] main -> main (pre-receive hook declined)" in refused.stderr
    _commit(work, "new.txt", "fast-forward is fine\n")
    run_git("-c", basic_header(token), "pull", "--quiet", "--rebase", "origin", "main", cwd=work)
    run_git("-c", basic_header(token), "push", "--quiet", "origin", "main", cwd=work)


def test_bad_credentials_and_missing_access(sim: RunningSim, tmp_path: Path) -> None:
    bad = run_git(
        "clone", _token_url(sim, "acme/widgets", "ghs_nope"), "x", cwd=tmp_path, check=False
    )
    assert bad.returncode != 0
    assert (
        "remote: Invalid username or token. Password authentication is not supported for "
        "Git operations."
    ) in bad.stderr
    assert "Authentication failed" in bad.stderr
    bob = "ghp_bob000000000000000000000000000000000"
    work = _clone(sim, "acme/gadgets", bob, tmp_path / "gadgets")
    _commit(work, "x.txt", "x\n")
    denied = run_git(
        "-c", basic_header(bob), "push", "origin", "HEAD:refs/heads/bob", cwd=work, check=False
    )
    assert "remote: Permission to acme/gadgets.git denied to bob." in denied.stderr
    assert "403" in denied.stderr
    missing = run_git(
        "-c", basic_header(bob), "clone", f"{sim.url}/acme/nope.git", "y", cwd=tmp_path, check=False
    )
    assert "remote: Repository not found." in missing.stderr


def test_parallel_pushes(sim: RunningSim, tmp_path: Path) -> None:
    token = sim.installation_token()
    base = _clone(sim, "acme/gadgets", token, tmp_path / "base")
    works = []
    for n in range(8):
        work = tmp_path / f"w{n}"
        run_git("clone", "--quiet", "--shared", str(base), str(work), cwd=tmp_path)
        run_git("checkout", "--quiet", "-b", f"parallel-{n}", cwd=work)
        _commit(work, f"file-{n}.txt", f"{n}\n")
        works.append(work)

    def push(work: Path) -> int:
        return run_git(
            "push", "--quiet", _token_url(sim, "acme/gadgets", token), "HEAD", cwd=work, check=False
        ).returncode

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(push, works)) == [0] * 8
    with sim.http(token) as client:
        names = {b["name"] for b in client.get("/repos/acme/gadgets/branches").json()}
    assert {f"parallel-{n}" for n in range(8)} <= names


def _backends() -> set[int]:
    """git-http-backend processes of this test run (children of this process)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and b"git-http-backend" in cmdline:
            found.add(int(entry.name))
    return found


def test_a_client_gone_mid_request_leaves_no_backend_behind(sim: RunningSim) -> None:
    # git-http-backend, promised more body than comes, would read the ended body forever.
    token = sim.installation_token()
    host, port = sim.url.removeprefix("http://").split(":")
    before = _backends()
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(
            b"POST /acme/widgets.git/git-receive-pack HTTP/1.1\r\n"
            + f"Host: {host}\r\n".encode()
            + f"{basic_header(token).split('=', 1)[1]}\r\n".encode()
            + b"Content-Type: application/x-git-receive-pack-request\r\n"
            b"Content-Length: 1000\r\n\r\n0094"
        )
        time.sleep(0.5)  # the backend started and reads the body
    deadline = time.monotonic() + 10
    while _backends() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _backends() - before == set()
