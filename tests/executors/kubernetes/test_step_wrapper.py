"""The POSIX-sh wrapper each step container runs (manifests.STEP_WRAPPER), run here with
/bin/sh as a container would: it records exit code, output and duration, kills the step at
its timeout, exports only the step's own secrets, and stops the steps after a failure."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from shoal.executors.kubernetes.manifests import STEP_WRAPPER


@pytest.fixture
def pod(tmp_path: Path) -> Path:
    (tmp_path / "repo").mkdir()
    (tmp_path / "state" / "steps").mkdir(parents=True)
    return tmp_path


def run_step(
    pod: Path, index: int, script: str, *, timeout: int = 30, secrets: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    state = pod / "state" / "steps" / str(index)
    state.mkdir()
    (state / "run").write_text(script)
    secrets_dir = ""
    if secrets:
        directory = pod / f"secrets-{index}"
        directory.mkdir()
        for name, value in secrets.items():
            (directory / name).write_text(value)
        secrets_dir = str(directory)
    return subprocess.run(
        [
            "/bin/sh",
            "-c",
            STEP_WRAPPER,
            "shoal-step",
            str(state),
            str(pod / "repo"),
            str(timeout),
            str(pod / "state" / "stopped"),
            secrets_dir,
        ],
        env={"PATH": "/usr/bin:/bin", "STEP_VAR": "from-env"},
        capture_output=True,
        timeout=60,
        check=False,
    )


def record(pod: Path, index: int, name: str) -> str:
    return (pod / "state" / "steps" / str(index) / name).read_text()


def test_it_records_exit_code_output_and_duration_and_always_exits_0(pod: Path) -> None:
    done = run_step(pod, 0, 'echo "out $STEP_VAR"; echo err >&2; touch made; pwd; exit 4\n')
    assert done.returncode == 0
    assert record(pod, 0, "exit") == "4\n"
    assert record(pod, 0, "output") == f"out from-env\nerr\n{pod / 'repo'}\n"
    t0, t1 = (float(x) for x in record(pod, 0, "time").split())
    assert 0 <= t1 - t0 < 10
    assert (pod / "repo" / "made").exists()
    assert not (pod / "state" / "steps" / "0" / "timed_out").exists()


def test_a_failed_step_stops_every_later_step(pod: Path) -> None:
    run_step(pod, 0, "exit 1\n")
    assert (pod / "state" / "stopped").exists()
    run_step(pod, 1, "touch ran\n")
    assert not (pod / "repo" / "ran").exists()
    assert not (pod / "state" / "steps" / "1" / "exit").exists()


def test_a_succeeding_step_lets_the_next_run(pod: Path) -> None:
    run_step(pod, 0, "true\n")
    run_step(pod, 1, "touch ran\n")
    assert (pod / "repo" / "ran").exists()
    assert record(pod, 1, "exit") == "0\n"


def test_the_step_is_killed_at_its_timeout(pod: Path) -> None:
    done = run_step(pod, 0, "echo started; sleep 30; echo never\n", timeout=1)
    assert done.returncode == 0
    assert record(pod, 0, "exit") == "137\n"
    assert (pod / "state" / "steps" / "0" / "timed_out").exists()
    assert record(pod, 0, "output") == "started\n"
    t0, t1 = (float(x) for x in record(pod, 0, "time").split())
    assert t1 - t0 < 10


def test_secrets_are_exported_exactly_from_their_files(pod: Path) -> None:
    value = "line one\nline two\n\n"
    run_step(
        pod,
        0,
        'printf "%s|" "$TOKEN" > seen; printf "%s" "$PLAIN" >> seen\n',
        secrets={"TOKEN": value, "PLAIN": "x"},
    )
    assert record(pod, 0, "exit") == "0\n"
    assert (pod / "repo" / "seen").read_text() == value + "|x"
