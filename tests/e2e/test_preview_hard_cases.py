"""Hard cases of a preview: every one ends with a clear per-repo status and the run finishes."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shoal.runtime.workers import WorkerComponents
from shoal.services.runs import SELECT_TASK
from shoal.services.selecting import run_select_task
from shoal.store import tasks as task_store
from tests.e2e.conftest import Stack

CASES = ["huge", "chatty", "binary", "latin1", "net", "escape", "slow", "plain"]

WORLD: dict[str, Any] = {
    "orgs": [
        {
            "login": "acme",
            "repos": [{"name": name, "files": {"README.md": f"# {name}\n"}} for name in CASES],
        }
    ],
    "apps": [
        {
            "slug": "shoal",
            "permissions": {"contents": "read", "metadata": "read"},
            "installations": [{"org": "acme"}],
        }
    ],
}


def _spec(port: int) -> str:
    return f"""\
name: hard-cases
on:
  - org: acme
steps:
  - name: huge
    if: "{{{{ repo.name == 'huge' }}}}"
    run: head -c 40000000 /dev/urandom | base64 > big.txt
  - name: chatty
    if: "{{{{ repo.name == 'chatty' }}}}"
    run: yes 0123456789abcdef | head -c 1000000000; echo done > out.txt
  - name: binary
    if: "{{{{ repo.name == 'binary' }}}}"
    run: head -c 3000 /dev/urandom > blob.bin
  - name: latin1
    if: "{{{{ repo.name == 'latin1' }}}}"
    run: echo hi > "$(printf 'caf\\351.txt')"
  - name: network
    if: "{{{{ repo.name == 'net' }}}}"
    run: python3 -c "import socket; socket.create_connection(('127.0.0.1', {port}), 3)"
  - name: escape
    if: "{{{{ repo.name == 'escape' }}}}"
    run: echo pwned > /etc/shoal-escape && echo pwned > /usr/shoal-escape
  - name: slow
    if: "{{{{ repo.name == 'slow' }}}}"
    timeout: 2s
    run: (sleep 300 &) ; sleep 300
  - name: readme
    run: echo "touched" >> README.md
changeset:
  title: hard cases
"""


@pytest.fixture
def listener() -> Iterator[tuple[int, list[Any]]]:
    """A TCP server on the host's loopback that records every connection it gets."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    seen: list[Any] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, addr = server.accept()
            except TimeoutError:
                continue
            seen.append(addr)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], seen
    stop.set()
    thread.join(timeout=5)
    server.close()


def test_hard_cases_each_end_with_a_clear_status(
    make_stack: Callable[..., Stack], listener: tuple[int, list[Any]]
) -> None:
    port, connections = listener
    stack = make_stack(WORLD, max_patch_bytes=10 << 20, max_binary_file_bytes=1 << 20)
    run = stack.preview(_spec(port), timeout_s=240)
    assert run["state"] == "done"
    found = stack.executions(run["id"])
    states = {repo.split("/")[1]: (e["state"], e["reason"]) for repo, e in found.items()}
    assert states == {
        "huge": ("failed", "diff_too_large"),
        "chatty": ("patch", None),
        "binary": ("patch", None),
        "latin1": ("patch", None),
        "net": ("failed", "step_exit_code"),
        "escape": ("failed", "step_exit_code"),
        "slow": ("failed", "step_timeout"),
        "plain": ("patch", None),
    }
    assert "10.0 MiB" in found["acme/huge"]["message"] or "limit" in found["acme/huge"]["message"]
    assert connections == []  # the step never reached the host's network

    chatty = stack.get(f"/runs/{run['id']}/executions/acme/chatty")
    assert chatty["steps"][1]["output_dropped"] > 900_000_000
    log = stack.get(f"/runs/{run['id']}/executions/acme/chatty/log")
    assert len(log) < 16 << 20 and "bytes of output dropped" in log

    binary = stack.get(f"/runs/{run['id']}/executions/acme/binary")
    blob = next(f for f in binary["files"] if f["path"] == "blob.bin")
    assert (blob["status"], blob["binary"], blob["size"]) == ("added", True, 3000)
    assert "GIT binary patch" in stack.get(f"/runs/{run['id']}/executions/acme/binary/patch")

    latin1 = stack.get(f"/runs/{run['id']}/executions/acme/latin1")
    assert {f["path"] for f in latin1["files"]} == {"README.md", "caf\\xe9.txt"}

    slow = stack.get(f"/runs/{run['id']}/executions/acme/slow")
    assert "timed out" in slow["message"]
    assert not Path("/etc/shoal-escape").exists() and not Path("/usr/shoal-escape").exists()
    assert stack.mutations() == []


def test_a_spec_selecting_nothing_finishes_with_the_reason(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(WORLD)
    spec = _spec(1).replace("  - org: acme\n", "  - org: acme\n    language: COBOL\n")
    run = stack.preview(spec)
    assert run["state"] == "failed"
    assert "selected no repository" in run["selection_error"]
    assert run["progress"]["excluded"] == len(CASES)
    reasons = {t["reason"] for t in stack.get(f"/runs/{run['id']}/targets")}
    assert all("language" in r for r in reasons), reasons


def test_a_repo_deleted_after_selection_fails_alone(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack(WORLD, worker=False)
    spec = _spec(1).replace("  - org: acme\n", "  - repos: [acme/plain, acme/binary]\n")
    name = stack.apply(spec)["campaign"]["name"]
    run = stack.start_preview(name)
    ctx = stack.api.ctx
    # Selection runs here, by hand; the worker started afterwards finds it done.
    with ctx.db.transaction() as conn:
        (task,) = task_store.list_tasks(conn, task_store.TaskFilter(kinds=(SELECT_TASK,)))
    parts = WorkerComponents(ctx)
    try:
        run_select_task(parts.selection, task)
    finally:
        parts.close()
    stack.sim.admin.delete_repo("acme", "plain")
    stack.start_worker()
    run = stack.wait(run["id"])
    assert run["state"] == "done"
    found = stack.executions(run["id"])
    assert (found["acme/plain"]["state"], found["acme/plain"]["reason"]) == (
        "failed",
        "repo_not_found",
    )
    assert "no longer" in found["acme/plain"]["message"]
    assert found["acme/binary"]["state"] == "patch"
