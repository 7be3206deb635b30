"""ProcessSandbox: no isolation, but the same env, output, timeout and process-group discipline."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from shoal.domain.errors import InvalidInputError
from shoal.executors import ProcessSandbox, SandboxUnavailableError, StepLimits, StepRun
from tests.executors.conftest import processes_with

LIMITS = StepLimits(timeout_s=20)


def test_refuses_root_unless_allowed() -> None:
    with pytest.raises(SandboxUnavailableError, match="refuses to run them as root"):
        ProcessSandbox()


def test_step_sees_only_its_env_and_a_private_home(
    process_sandbox: ProcessSandbox, scratch: Path, monkeypatch: pytest.MonkeyPatch, marker: str
) -> None:
    monkeypatch.setenv("SHOAL_SECRET", marker)
    result = process_sandbox.run(
        'env; pwd; touch "$HOME/x"; test "$HOME" = "$TMPDIR"',
        workspace=scratch,
        env={"STEP_VAR": "given", "LANG": "C"},
        limits=LIMITS,
    )
    output = result.output_head.decode()
    assert result.exit_code == 0, output
    assert marker not in output
    assert "STEP_VAR=given\n" in output
    assert "LANG=C\n" in output
    assert f"PWD={scratch}\n" in output
    home = next(line[5:] for line in output.splitlines() if line.startswith("HOME="))
    assert home.startswith("/") and not Path(home).exists()  # removed after the step


@pytest.mark.parametrize(
    "env",
    [{"BAD-NAME": "x"}, {"": "x"}, {"A": "nul\0byte"}],
    ids=["dash-in-name", "empty-name", "nul-in-value"],
)
def test_invalid_env_is_rejected(
    process_sandbox: ProcessSandbox, scratch: Path, env: dict[str, str]
) -> None:
    with pytest.raises(InvalidInputError):
        process_sandbox.run("true", workspace=scratch, env=env, limits=LIMITS)


def test_timeout_kills_the_process_group(
    process_sandbox: ProcessSandbox, scratch: Path, marker: str
) -> None:
    holder: list[StepRun] = []
    step = threading.Thread(
        target=lambda: holder.append(
            process_sandbox.run(
                "sleep 1000 & (sleep 1000 &) ; echo started; sleep 1000",
                workspace=scratch,
                env={"M": marker},
                limits=StepLimits(timeout_s=1),
            )
        )
    )
    step.start()
    started = time.monotonic()
    while len(processes_with(marker)) < 4 and time.monotonic() - started < 1:
        time.sleep(0.02)
    assert len(processes_with(marker)) >= 4
    step.join(timeout=10)
    [result] = holder
    assert (result.timed_out, result.exit_code) == (True, None)
    assert result.output_head == b"started\n"
    deadline = time.monotonic() + 3
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with(marker) == []


def test_a_background_child_holding_the_pipe_does_not_hang_the_step(
    process_sandbox: ProcessSandbox, scratch: Path, marker: str
) -> None:
    started = time.monotonic()
    result = process_sandbox.run(
        "sleep 1000 & echo done", workspace=scratch, env={"M": marker}, limits=LIMITS
    )
    assert (result.exit_code, result.output_head) == (0, b"done\n")
    assert time.monotonic() - started < 5
    assert processes_with(marker) == []


def test_output_is_capped_and_rlimits_apply(process_sandbox: ProcessSandbox, scratch: Path) -> None:
    result = process_sandbox.run(
        "ulimit -n; head -c 100000 /dev/zero; exit 7",
        workspace=scratch,
        env={},
        limits=StepLimits(timeout_s=20, max_output_bytes=1000, max_open_files=99),
    )
    assert result.exit_code == 7
    assert result.output_head.startswith(b"99\n")
    assert len(result.output_head) == len(result.output_tail) == 500
    assert result.output_dropped == 100003 - 1000
