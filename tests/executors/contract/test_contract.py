"""The executor contract (shoal.executors.port), the same for every executor.

Workspace in; patch, log and one report per step out; per-step timeout and output bounds;
secrets masked; a step's env is its plan's and nothing of the worker's; failures as results
with their reason. Runs once per executor in conftest.EXECUTORS.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from shoal.domain.executions import ExecutionState, FailureReason, FileStatus
from shoal.execution import ExecutionResult, RunnerLimits
from tests.execution.conftest import apply_patch, github_tarball
from tests.executors.contract.conftest import ExecutorUnderTest

SECRET = "contract-secret-value-8f2e1c"


@pytest.fixture
def tarball(tmp_path: Path) -> Path:
    return github_tarball(
        tmp_path / "repo",
        {
            ".github/workflows/ci.yml": b"uses: actions/checkout@v3\n",
            "README.md": b"hello\n",
            "old.txt": b"to be renamed\n",
            "gone.txt": b"to be deleted\n",
        },
    )


def test_a_change_comes_back_as_a_patch_that_applies_to_the_base(
    under_test: ExecutorUnderTest, tarball: Path, tmp_path: Path
) -> None:
    result = under_test.execute(
        [
            under_test.step(
                "sed -i 's/checkout@v3/checkout@v4/' .github/workflows/ci.yml", name="bump"
            ),
            under_test.step(
                "mv old.txt new.txt && rm gone.txt && printf 'x\\n' > added.txt && echo done",
                name="shuffle",
            ),
        ],
        tarball,
    )
    assert result.state is ExecutionState.PATCH, result.message
    assert result.message == "4 files changed, +2 -2"
    assert sorted((f.path, f.status) for f in result.files) == [
        (".github/workflows/ci.yml", FileStatus.MODIFIED),
        ("added.txt", FileStatus.ADDED),
        ("gone.txt", FileStatus.DELETED),
        ("new.txt", FileStatus.RENAMED),
    ]
    assert [(s.name, s.skipped, s.exit_code, s.timed_out) for s in result.steps] == [
        ("bump", False, 0, False),
        ("shuffle", False, 0, False),
    ]
    assert result.patch_path is not None and result.patch_path.parent == result.log_path.parent
    assert result.patch_bytes == result.patch_path.stat().st_size
    log = result.log_path.read_text()
    assert "==> step bump" in log and "==> step shuffle" in log and "done" in log
    # The patch applies to the base commit as GitHub serves it.
    base = tmp_path / "repo" / "src"
    apply_patch(base, result.patch_path)
    assert (base / ".github/workflows/ci.yml").read_text() == "uses: actions/checkout@v4\n"


def test_no_change(under_test: ExecutorUnderTest, tarball: Path) -> None:
    result = under_test.execute([under_test.step("cat README.md")], tarball)
    assert (result.state, result.message, result.patch_path) == (
        ExecutionState.NO_CHANGE,
        "no changes",
        None,
    )
    assert "hello" in result.log_path.read_text()


def test_an_empty_repository_gets_an_empty_workspace(under_test: ExecutorUnderTest) -> None:
    result = under_test.execute(
        [under_test.step('test -z "$(ls -A | grep -v "^.git$")" && echo new > NEW')], None
    )
    assert result.state is ExecutionState.PATCH, result.message
    assert [(f.path, f.status) for f in result.files] == [("NEW", FileStatus.ADDED)]


def test_a_failing_step_stops_the_execution(under_test: ExecutorUnderTest, tarball: Path) -> None:
    result = under_test.execute(
        [
            under_test.step("echo before; exit 3", name="fails"),
            under_test.step("echo never > never.txt", name="after"),
        ],
        tarball,
    )
    assert (result.state, result.reason) == (ExecutionState.FAILED, FailureReason.STEP_EXIT_CODE)
    assert result.message == "step 'fails' exited with code 3"
    assert [(s.name, s.exit_code) for s in result.steps] == [("fails", 3)]
    log = result.log_path.read_text()
    assert "before" in log and "error: step 'fails' exited with code 3" in log


def test_a_step_past_its_timeout_is_killed(under_test: ExecutorUnderTest, tarball: Path) -> None:
    started = time.monotonic()
    result = under_test.execute(
        [under_test.step("echo started; sleep 60", name="slow", timeout_s=1.0)], tarball
    )
    assert (result.state, result.reason) == (ExecutionState.FAILED, FailureReason.STEP_TIMEOUT)
    assert result.message == "step 'slow' timed out after 1s and was killed"
    (report,) = result.steps
    assert report.timed_out and report.exit_code is None
    assert time.monotonic() - started < 30


def test_output_is_bounded_per_step(under_test: ExecutorUnderTest, tarball: Path) -> None:
    limit = 64 * 1024
    result = under_test.execute(
        [
            under_test.step(
                "echo FIRST-LINE; i=0; while [ $i -lt 40000 ]; do "
                "echo 'line of output that fills the log quickly'; i=$((i+1)); done; "
                "echo LAST-LINE",
                name="loud",
            )
        ],
        tarball,
        limits=RunnerLimits(max_step_output_bytes=limit),
    )
    assert result.state is ExecutionState.NO_CHANGE, result.message
    (report,) = result.steps
    assert report.output_dropped > 1_000_000
    log = result.log_path.read_text()
    # Head and tail are kept, the middle is counted.
    assert "FIRST-LINE" in log and "LAST-LINE" in log
    assert result.log_path.stat().st_size < limit + 4096


def test_secrets_reach_the_step_and_never_the_log(
    under_test: ExecutorUnderTest, tarball: Path
) -> None:
    result = under_test.execute(
        [
            under_test.step(
                'echo "token is $TOKEN"; echo "$TOKEN" | rev; test -n "$TOKEN"',
                secrets=("TOKEN",),
            ),
            under_test.step("echo leaked:$TOKEN", name="not-given"),
        ],
        tarball,
        secrets={"TOKEN": SECRET},
    )
    assert result.state is ExecutionState.NO_CHANGE, result.message
    log = result.log_path.read_bytes()
    assert b"token is ***" in log
    assert SECRET.encode() not in log
    # A step gets only the secrets it lists.
    assert b"leaked:\n" in log


def test_a_step_sees_its_env_and_nothing_of_the_workers(
    under_test: ExecutorUnderTest, tarball: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOAL_CONTRACT_WORKER_ONLY", "worker-credential")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "worker-s3-key")
    result = under_test.execute(
        [under_test.step("env | sort", env={"GREETING": "hi there", "LC_ALL": "C"})], tarball
    )
    assert result.state is ExecutionState.NO_CHANGE, result.message
    log = result.log_path.read_text()
    assert "GREETING=hi there" in log and "LC_ALL=C" in log
    assert "worker-credential" not in log and "worker-s3-key" not in log
    assert "SHOAL_CONTRACT_WORKER_ONLY" not in log
    names = {line.split("=", 1)[0] for line in log.splitlines() if "=" in line}
    assert not {name for name in names if name.startswith(("SHOAL_", "AWS_", "GITHUB_"))}
    assert os.environ["SHOAL_CONTRACT_WORKER_ONLY"] == "worker-credential"


def test_conditions_decide_which_steps_run(under_test: ExecutorUnderTest, tarball: Path) -> None:
    result = under_test.execute(
        [
            under_test.step(
                "echo go > go.txt", name="go-only", condition="{{ repo.language == 'Go' }}"
            ),
            under_test.step(
                "echo py > py.txt", name="python-only", condition="{{ repo.language == 'Python' }}"
            ),
        ],
        tarball,
    )
    assert result.state is ExecutionState.PATCH, result.message
    assert [(s.name, s.skipped) for s in result.steps] == [
        ("go-only", True),
        ("python-only", False),
    ]
    assert [f.path for f in result.files] == ["py.txt"]
    assert "==> step go-only skipped: condition was false" in result.log_path.read_text()


def test_each_step_that_ran_records_the_image_it_ran_in(
    under_test: ExecutorUnderTest, tarball: Path
) -> None:
    result = under_test.execute(
        [
            under_test.step("true", name="never", condition="{{ repo.language == 'Go' }}"),
            under_test.step("echo ran > ran.txt", name="ran"),
        ],
        tarball,
    )
    assert result.state is ExecutionState.PATCH, result.message
    skipped, ran = result.steps
    assert (skipped.image, skipped.image_digest) == (None, None)
    if under_test.step_image is None:
        # Steps with the machine's own tools ran in no image.
        assert (ran.image, ran.image_digest) == (None, None)
        return
    assert ran.image == under_test.step_image
    assert ran.image_digest is not None
    assert re.search(r"sha256:[0-9a-f]{64}$", ran.image_digest), ran.image_digest
    # It crosses the runner's JSON boundary as it is.
    again = ExecutionResult.from_json(result.to_json(), result.log_path.parent)
    assert again.steps == result.steps


def test_an_invalid_condition_fails_naming_the_step(
    under_test: ExecutorUnderTest, tarball: Path
) -> None:
    result = under_test.execute(
        [under_test.step("true", name="odd", condition="{{ repo.language == }}")], tarball
    )
    assert (result.state, result.reason) == (
        ExecutionState.FAILED,
        FailureReason.CONDITION_INVALID,
    )
    assert result.message.startswith("step 'odd' has an invalid if:")


def test_a_missing_secret_fails_before_the_step_runs(
    under_test: ExecutorUnderTest, tarball: Path
) -> None:
    result = under_test.execute(
        [under_test.step("echo ran > ran.txt", name="needs", secrets=("ABSENT",))], tarball
    )
    assert (result.state, result.reason) == (ExecutionState.FAILED, FailureReason.SECRET_MISSING)
    assert result.message == "step 'needs' needs secret(s) ABSENT, which are not set"
    assert result.steps == ()


def test_a_change_too_large_fails(under_test: ExecutorUnderTest, tarball: Path) -> None:
    result = under_test.execute(
        [
            under_test.step(
                'i=0; while [ $i -lt 3000 ]; do echo "line $i of a large file"; i=$((i+1)); '
                "done > big.txt"
            )
        ],
        tarball,
        limits=RunnerLimits(max_patch_bytes=4096),
    )
    assert (result.state, result.reason) == (ExecutionState.FAILED, FailureReason.DIFF_TOO_LARGE)
    assert result.patch_path is None


def test_a_step_image_runs_in_that_image_or_is_refused(
    under_test: ExecutorUnderTest, tarball: Path
) -> None:
    image = under_test.step_image or "ghcr.io/acme/tools@sha256:" + "ab" * 32
    result = under_test.execute(
        [under_test.step("echo in-image > marker.txt", name="imaged", image=image)], tarball
    )
    if under_test.step_image is not None:
        assert result.state is ExecutionState.PATCH, result.message
        return
    # An executor that runs the machine's own tools says so, and runs nothing.
    assert (result.state, result.reason) == (ExecutionState.FAILED, FailureReason.SANDBOX_ERROR)
    assert result.message.startswith("step 'imaged' could not run: it names the container image")
    assert "SHOAL_EXECUTOR=podman or kubernetes" in result.message
    assert result.steps == ()


def test_the_steps_together_stop_at_the_total_step_time(
    under_test: ExecutorUnderTest, tarball: Path
) -> None:
    started = time.monotonic()
    result = under_test.execute(
        [
            under_test.step("sleep 1; echo first done", name="first"),
            under_test.step("echo second started; sleep 60", name="second"),
            under_test.step("echo never > never.txt", name="third"),
        ],
        tarball,
        limits=RunnerLimits(max_total_step_s=4.0),
    )
    assert (result.state, result.reason) == (ExecutionState.FAILED, FailureReason.STEP_TIMEOUT)
    assert result.message == (
        "step 'second' stopped: the steps together may run for at most 4s "
        "(SHOAL_MAX_TOTAL_STEP_SECONDS)"
    )
    assert [(s.name, s.timed_out) for s in result.steps] == [("first", False), ("second", True)]
    assert time.monotonic() - started < 40


def test_the_whole_log_is_capped(under_test: ExecutorUnderTest, tarball: Path) -> None:
    loud = "i=0; while [ $i -lt 3000 ]; do echo 'twenty bytes a line'; i=$((i+1)); done"
    result = under_test.execute(
        [under_test.step(loud, name=f"loud{n}") for n in range(4)],
        tarball,
        limits=RunnerLimits(max_step_output_bytes=64 * 1024, max_log_bytes=100 * 1024),
    )
    assert result.state is ExecutionState.NO_CHANGE, result.message
    assert [s.exit_code for s in result.steps] == [0, 0, 0, 0]
    log = result.log_path.read_bytes()
    assert len(log) <= 100 * 1024
    assert b"==> step loud0" in log and b"==> step loud3" not in log
    assert log.endswith(b"[... log truncated: it reached its limit of 102400 bytes ...]\n")


@pytest.mark.parametrize("executor_kind", ["kubernetes"])
def test_kubernetes_records_the_digest_the_pod_status_reports(
    under_test: ExecutorUnderTest, tarball: Path
) -> None:
    from tests.k8s.pods import fake_image_id

    tagged = "registry.test/tools:latest"
    result = under_test.execute([under_test.step("true", name="tagged", image=tagged)], tarball)
    assert result.state is ExecutionState.NO_CHANGE, result.message
    (step,) = result.steps
    # The double's kubelet reports this made-up imageID for a tag; nothing else knows it.
    assert (step.image, step.image_digest) == (tagged, fake_image_id(tagged))
