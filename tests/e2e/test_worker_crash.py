"""A worker killed in the middle of a preview: another one finishes it, nothing runs twice in
effect, and no execution row or stored object is duplicated."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Stack
from tests.runs.recount import assert_counters_match

REPOS = 16

WORLD: dict[str, Any] = {
    "orgs": [
        {
            "login": "acme",
            "repos": [
                {"name": f"svc-{n:02d}", "files": {"README.md": f"# svc {n}\n"}}
                for n in range(REPOS)
            ],
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

SPEC = """\
name: slow-edit
on:
  - org: acme
steps:
  - name: edit
    run: sleep 1; echo "edited" >> README.md
changeset:
  title: edit
"""


@contextmanager
def worker_process(stack: Stack, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`shoal worker` as its own process, like a replica in a cluster."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from shoal.cli.main import main; main()", "worker"],
            env=stack.worker_env(
                worker_concurrency=4, task_stall_timeout_s=3, task_heartbeat_s=0.5
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _finished(stack: Stack, run_id: int) -> int:
    return int(stack.get(f"/runs/{run_id}")["progress"]["finished"])


def test_a_killed_worker_leaves_no_duplicates(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack(WORLD, worker=False)
    name = stack.apply(SPEC)["campaign"]["name"]
    run_id = stack.start_preview(name)["id"]
    log = tmp_path / "workers.log"

    with worker_process(stack, log) as first:
        deadline = time.monotonic() + 90
        while _finished(stack, run_id) < 3:
            assert first.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        first.send_signal(signal.SIGKILL)  # mid-run: some executions are running right now
        first.wait(timeout=10)
    killed_at = _finished(stack, run_id)
    assert killed_at < REPOS

    with worker_process(stack, log):
        run = stack.wait(run_id, timeout_s=120)

    assert run["state"] == "done", run
    assert run["progress"]["patch"] == REPOS
    executions = stack.get(f"/runs/{run_id}/executions", limit=1000)
    assert len(executions) == REPOS
    assert len({e["repo"] for e in executions}) == REPOS
    attempts = Counter(e["attempts"] for e in executions)
    assert sum(n for a, n in attempts.items() if a > 1) >= 1, attempts  # some were re-run

    objects = stack.settings.data_dir / "objects"
    logs = list((objects / "logs" / "runs" / str(run_id) / "executions").iterdir())
    assert len(logs) == REPOS
    patches = [p for p in (objects / "patches").rglob("*") if p.is_file()]
    assert len(patches) == len({e["patch_sha256"] for e in executions}) == REPOS

    with stack.api.ctx.db.transaction() as conn:
        states = conn.exec_driver_sql(
            "SELECT state, count(*) FROM tasks WHERE kind = 'execution.run' GROUP BY state"
        ).all()
    assert dict(states) == {"done": REPOS}
    assert_counters_match(stack.api.ctx.db, run_id)  # the killed worker's attempts too
