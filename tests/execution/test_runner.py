"""run_execution: the three outcomes, conditions, secrets, failing steps and the log."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoal.domain.executions import ExecutionState, FailureReason, FileStatus
from shoal.execution import RunnerLimits
from tests.execution.conftest import Execute, apply_patch, fresh_base, github_tarball, step


@pytest.fixture
def tarball(tmp_path: Path) -> Path:
    return github_tarball(
        tmp_path / "base",
        {
            ".github/workflows/ci.yml": b"steps:\n  - uses: actions/checkout@v3\n",
            "README.md": b"# widget\n",
        },
    )


def test_a_change_gives_a_patch_that_applies_to_the_base(
    execute: Execute, tarball: Path, tmp_path: Path
) -> None:
    done = execute(
        [step("sed -i 's/checkout@v3/checkout@v4/' .github/workflows/ci.yml", name="bump")],
        tarball,
    )
    result = done.result
    assert result.state is ExecutionState.PATCH, result.message
    assert result.reason is None
    assert result.message == "1 file changed, +1 -1"
    assert [(f.path, f.status, f.added, f.deleted) for f in result.files] == [
        (".github/workflows/ci.yml", FileStatus.MODIFIED, 1, 1)
    ]
    assert result.patch_path is not None and result.patch_path.parent == result.log_path.parent
    assert result.patch_bytes == result.patch_path.stat().st_size
    assert len(result.patch_sha256 or "") == 64
    base = fresh_base(tmp_path, tarball)
    apply_patch(base, result.patch_path)
    assert (base / ".github/workflows/ci.yml").read_bytes() == (
        b"steps:\n  - uses: actions/checkout@v4\n"
    )
    assert [(s.name, s.skipped, s.exit_code) for s in result.steps] == [("bump", False, 0)]


def test_no_change(execute: Execute, tarball: Path) -> None:
    done = execute([step("grep -q widget README.md && echo looked")], tarball)
    assert done.result.state is ExecutionState.NO_CHANGE
    assert done.result.patch_path is None and done.result.files == ()
    assert done.result.message == "no changes"
    assert "==> step step\nlooked\n<== exit 0 in " in done.log


def test_a_new_gitignored_file_is_no_change_but_a_tracked_ignored_file_counts(
    execute: Execute, tmp_path: Path
) -> None:
    tarball = github_tarball(
        tmp_path / "base", {".gitignore": b"*.log\n", "kept.log": b"tracked anyway\n"}
    )
    # `kept.log` is in the base although .gitignore matches it: changing it is a change.
    done = execute([step("echo new > build.log")], tarball)
    assert done.result.state is ExecutionState.NO_CHANGE
    done = execute([step("echo changed > kept.log; echo new > build.log")], tarball)
    assert [f.path for f in done.result.files] == ["kept.log"]


def test_an_empty_repository_gets_an_empty_workspace(execute: Execute) -> None:
    done = execute([step('test -z "$(ls -A)" && echo hi > hello.txt')], None)
    assert done.result.state is ExecutionState.PATCH, done.log
    assert [(f.path, f.status, f.size) for f in done.result.files] == [
        ("hello.txt", FileStatus.ADDED, 3)
    ]


@pytest.mark.parametrize(
    ("condition", "runs"),
    [
        ("{{ repo.language == 'Python' }}", True),
        ("{{ repo.language == 'Go' }}", False),
        ("{{ 'no' }}", False),
        (None, True),
    ],
    ids=["true", "false", "renders-no", "no-condition"],
)
def test_condition_decides_whether_a_step_runs(
    execute: Execute, tarball: Path, condition: str | None, runs: bool
) -> None:
    done = execute([step("echo ran > ran.txt", name="maybe", condition=condition)], tarball)
    assert done.result.state is (ExecutionState.PATCH if runs else ExecutionState.NO_CHANGE)
    assert done.result.steps[0].skipped is not runs
    if not runs:
        assert "==> step maybe skipped: condition was false\n" in done.log
        assert done.sandbox.envs == []


def test_an_invalid_condition_fails_naming_the_step(execute: Execute, tarball: Path) -> None:
    done = execute(
        [
            step("echo one > one.txt", name="first"),
            step("echo two > two.txt", name="second", condition="{{ repo.no_such_field }}"),
            step("echo three > three.txt", name="third"),
        ],
        tarball,
    )
    result = done.result
    assert result.state is ExecutionState.FAILED
    assert result.reason is FailureReason.CONDITION_INVALID
    assert result.message.startswith("step 'second' has an invalid if: ")
    assert "no_such_field" in result.message
    assert [s.name for s in result.steps] == ["first"]  # the third never ran
    assert result.patch_path is None


def test_a_missing_secret_fails_before_the_step_runs(execute: Execute, tarball: Path) -> None:
    done = execute([step("echo x > x", name="publish", secrets=("NPM_TOKEN",))], tarball)
    assert done.result.reason is FailureReason.SECRET_MISSING
    assert "NPM_TOKEN" in done.result.message and "'publish'" in done.result.message
    assert done.sandbox.envs == []


def test_secrets_and_env_reach_the_step(execute: Execute, tarball: Path) -> None:
    done = execute(
        [step('printf "%s" "$TOKEN" > t.txt', env={"MODE": "x"}, secrets=("TOKEN",))],
        tarball,
        secrets={"TOKEN": "s3cr3t-value"},
    )
    assert done.sandbox.envs == [{"MODE": "x", "TOKEN": "s3cr3t-value"}]
    assert (done.workspace.path / "t.txt").read_text() == "s3cr3t-value"


def test_a_non_zero_exit_stops_the_run(execute: Execute, tarball: Path) -> None:
    done = execute(
        [step("echo changed > README.md; exit 3", name="bump"), step("echo never > n.txt")],
        tarball,
    )
    assert done.result.state is ExecutionState.FAILED
    assert done.result.reason is FailureReason.STEP_EXIT_CODE
    assert done.result.message == "step 'bump' exited with code 3"
    assert len(done.result.steps) == 1 and done.result.steps[0].exit_code == 3
    assert not (done.workspace.path / "n.txt").exists()
    assert "<== exit 3 in " in done.log
    assert "error: step 'bump' exited with code 3\n" in done.log


def test_a_step_past_its_timeout_is_reported(execute: Execute, tarball: Path) -> None:
    done = execute([step("echo started; sleep 30", name="slow", timeout_s=0.5)], tarball)
    assert done.result.reason is FailureReason.STEP_TIMEOUT
    assert done.result.message == "step 'slow' timed out after 0.5s and was killed"
    assert done.result.steps[0].timed_out and done.result.steps[0].exit_code is None
    assert "started\n<== timed out after 0.5s, killed (" in done.log


def test_log_frames_each_step_and_drops_the_middle_of_long_output(
    execute: Execute, tarball: Path
) -> None:
    done = execute(
        [
            step("echo hello", name="one"),
            step("seq 1 10000", name="long"),
            step("true", name="skipped", condition="{{ false }}"),
        ],
        tarball,
        limits=RunnerLimits(max_step_output_bytes=1000),
    )
    log = done.log
    assert log.startswith("==> step one\nhello\n<== exit 0 in ")
    assert "==> step long\n1\n2\n3\n" in log
    dropped = done.result.steps[1].output_dropped
    assert dropped == len("".join(f"{i}\n" for i in range(1, 10001))) - 1000
    assert f"\n[... {dropped} bytes of output dropped ...]\n" in log
    assert "\n10000\n<== exit 0 in " in log
    assert log.endswith("==> step skipped skipped: condition was false\nno changes\n")


def test_the_log_is_capped(execute: Execute, tarball: Path) -> None:
    limits = RunnerLimits(max_step_output_bytes=100_000, max_log_bytes=5000)
    done = execute([step("seq 1 20000", name=f"s{i}") for i in range(3)], tarball, limits=limits)
    assert done.result.state is ExecutionState.NO_CHANGE
    data = done.result.log_path.read_bytes()
    assert len(data) <= 5000
    assert data.endswith(b"[... log truncated: it reached its limit of 5000 bytes ...]\n")
