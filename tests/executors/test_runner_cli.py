"""`shoal runner run` as an executor starts it: a subprocess, the request on stdin or in a file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from shoal.domain.executions import ExecutionState, FailureReason
from shoal.execution import ExecutionRequest, ExecutionResult, StepPlan
from tests.executors.test_local import make_tarball

SECRET = "runner-secret-value-42"
# The lead wires runner_app into `shoal`; the test runs the Typer app itself as a program.
RUNNER = [
    sys.executable,
    "-c",
    "from shoal.cli.local.runner import runner_app; runner_app(prog_name='shoal runner')",
]


def request_json(script: str) -> str:
    step = StepPlan(
        name="bump", run=script, env={}, secrets=("TOKEN",), timeout_s=10, condition=None
    )
    return ExecutionRequest(steps=(step,), context={}, secrets={"TOKEN": SECRET}).to_json()


def runner(*args: str, stdin: str = "", cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [*RUNNER, "run", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
        cwd=cwd,
    )


def test_request_on_stdin_produces_result_patch_and_log(tmp_path: Path, scratch: Path) -> None:
    tarball = make_tarball(tmp_path / "repo.tar.gz", {"Dockerfile": "FROM python:3.8-slim\n"})
    out = tmp_path / "out"
    done = runner(
        "--request",
        "-",
        "--workspace-tarball",
        str(tarball),
        "--out",
        str(out),
        "--work-root",
        str(scratch),
        stdin=request_json('sed -i s/3.8/3.12/ Dockerfile && echo "using $TOKEN"'),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    result = ExecutionResult.from_json((out / "result.json").read_text(), out)
    assert result.state is ExecutionState.PATCH
    assert result.patch_path is not None
    assert b"+FROM python:3.12-slim" in result.patch_path.read_bytes()
    assert "using" in result.log_path.read_text()
    assert SECRET not in result.log_path.read_text()
    assert "patch" in done.stderr
    assert list(scratch.iterdir()) == []


def test_a_failing_step_still_exits_zero(tmp_path: Path, scratch: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(request_json("exit 9"))
    request.chmod(0o600)
    out = tmp_path / "out"
    done = runner(
        "--request", str(request), "--out", str(out), "--work-root", str(scratch), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["state"] == ExecutionState.FAILED.value
    assert result["reason"] == FailureReason.STEP_EXIT_CODE.value


def test_a_request_file_others_can_read_is_refused(tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(request_json("true"))
    request.chmod(0o644)
    done = runner("--request", str(request), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 2
    assert "chmod 600" in done.stderr
    assert not (tmp_path / "out").exists()


def test_an_invalid_request_does_not_echo_its_secrets(tmp_path: Path) -> None:
    broken = json.loads(request_json("true"))
    broken["steps"][0]["timeout_s"] = "soon"
    done = runner(
        "--request", "-", "--out", str(tmp_path / "out"), stdin=json.dumps(broken), cwd=tmp_path
    )
    assert done.returncode == 2
    assert "timeout_s" in done.stderr
    assert SECRET not in done.stderr + done.stdout


def test_an_unavailable_sandbox_is_a_runner_failure(tmp_path: Path) -> None:
    # As root the process sandbox refuses to run: that is the machine's problem, not a result.
    done = runner(
        "--request",
        "-",
        "--out",
        str(tmp_path / "out"),
        "--sandbox",
        "process",
        stdin=request_json("true"),
        cwd=tmp_path,
    )
    assert done.returncode == 3
    assert "refuses to run them as root" in done.stderr
    assert not (tmp_path / "out" / "result.json").exists()
