"""Attacks on the worker by a hostile step or a hostile repository, through the real executor.

Each test runs an Execution the way the worker does (`LocalExecutor` with the bubblewrap
sandbox, a GitHub-like tarball) and checks that the attack ends as a clear, fast failure:
sparse and huge files no longer hold the worker's git for minutes, a tarball bomb stops at
the caps, the workspace has a disk quota, a step's processes share one memory limit,
symlinks out of the repository and files the tarball alters are not published, a step sees
no host /etc, runs under seccomp, and all steps together have a time limit.
"""

from __future__ import annotations

import io
import shutil
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shoal.domain.executions import ExecutionState, FailureReason
from shoal.execution import ExecutionRequest, ExecutionResult, RunnerLimits
from shoal.executors import BwrapSandbox, SandboxUnavailableError
from shoal.executors.local import LocalExecutor
from tests.execution.conftest import CONTEXT, TOP, apply_patch, fresh_base, github_tarball, step

MiB = 1 << 20


@pytest.fixture(scope="module")
def bwrap() -> BwrapSandbox:
    try:
        return BwrapSandbox(kill_grace_s=0.5)
    except SandboxUnavailableError as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"bubblewrap unavailable: {exc.message}")


@pytest.fixture
def work_root() -> Iterator[Path]:
    # Not under pytest's 0700 tmp dirs: uid 65534 must traverse it to mount the workspace.
    path = Path(tempfile.mkdtemp(prefix="shoal-security-"))
    path.chmod(0o711)
    yield path
    shutil.rmtree(path)


@pytest.fixture
def tarball(tmp_path: Path) -> Path:
    return github_tarball(tmp_path / "base", {"README.md": b"hello\n", "src/app.py": b"x = 1\n"})


def execute(
    sandbox: BwrapSandbox,
    work_root: Path,
    tarball: Path | None,
    out_dir: Path,
    *scripts: str,
    limits: RunnerLimits | None = None,
    workspace_quota: bool = True,
    allow_outside_symlinks: bool = False,
) -> tuple[ExecutionResult, str, float]:
    quota = {} if workspace_quota else {"workspace_quota": False}
    executor = LocalExecutor(sandbox, work_root=work_root, parallelism=1, **quota)
    request = ExecutionRequest(
        steps=tuple(step(s, name=f"step{i}", timeout_s=20) for i, s in enumerate(scripts)),
        context=CONTEXT,
        secrets={},
        limits=limits or RunnerLimits(),
        allow_outside_symlinks=allow_outside_symlinks,
    )
    started = time.monotonic()
    result = executor.execute(request, tarball, out_dir)
    took = time.monotonic() - started
    log = result.log_path.read_text(errors="backslashreplace")
    # Whatever happened, the scratch directory (and its quota mount) is gone.
    assert list(work_root.iterdir()) == []
    return result, log, took


def test_sparse_files_fail_fast_before_the_workers_git_reads_them(
    bwrap: BwrapSandbox, work_root: Path, tarball: Path, tmp_path: Path
) -> None:
    # Twelve 1000 MiB files that use no disk: git would hash 12 GB as root, for minutes.
    script = "for i in $(seq 12); do truncate -s 1000M sparse$i.bin; done"
    result, log, took = execute(bwrap, work_root, tarball, tmp_path / "out", script)
    assert (result.state, result.reason) == (ExecutionState.FAILED, FailureReason.DIFF_TOO_LARGE)
    assert "sparse" in result.message and "1000.0 MiB" in result.message
    assert "apparent size" in result.message
    assert result.message in log
    assert took < 10


def test_a_200_mb_file_fails_before_git_loads_it(
    bwrap: BwrapSandbox, work_root: Path, tarball: Path, tmp_path: Path
) -> None:
    script = "head -c 200000000 /dev/zero > big.bin"
    result, _log, took = execute(bwrap, work_root, tarball, tmp_path / "out", script)
    assert (result.state, result.reason) == (ExecutionState.FAILED, FailureReason.DIFF_TOO_LARGE)
    assert result.message.startswith("'big.bin' is 190.7 MiB (apparent size)")
    assert "SHOAL_MAX_PATCH_BYTES" in result.message
    assert took < 10


def test_a_large_ignored_build_output_does_not_fail_the_change(
    bwrap: BwrapSandbox, work_root: Path, tmp_path: Path
) -> None:
    tarball = github_tarball(tmp_path / "base", {".gitignore": b"build/\n", "README.md": b"hi\n"})
    script = "mkdir build && head -c 50000000 /dev/zero > build/out.bin && echo more >> README.md"
    result, _log, _took = execute(bwrap, work_root, tarball, tmp_path / "out", script)
    assert result.state is ExecutionState.PATCH, result.message
    assert [f.path for f in result.files] == ["README.md"]


def test_the_workers_git_has_a_deadline(
    bwrap: BwrapSandbox, work_root: Path, tarball: Path, tmp_path: Path
) -> None:
    # Files each under the per-file cap, but more than git can stage in the time allowed.
    script = "for i in $(seq 100); do head -c 4000000 /dev/urandom > r$i.bin; done"
    limits = RunnerLimits(max_diff_s=0.2)
    result, _log, took = execute(bwrap, work_root, tarball, tmp_path / "out", script, limits=limits)
    assert (result.state, result.reason) == (ExecutionState.FAILED, FailureReason.DIFF_TOO_LARGE)
    assert "time to record the diff" in result.message
    assert took < 15


def test_too_many_files_exceed_the_workspace_quota(
    bwrap: BwrapSandbox, work_root: Path, tarball: Path, tmp_path: Path
) -> None:
    script = "mkdir many && cd many && seq 3000 | xargs touch"
    limits = RunnerLimits(max_workspace_files=2000)
    result, _log, _took = execute(
        bwrap, work_root, tarball, tmp_path / "out", script, limits=limits
    )
    assert (result.state, result.reason) == (
        ExecutionState.FAILED,
        FailureReason.DISK_QUOTA_EXCEEDED,
    )
    assert "2000 files" in result.message


def test_too_many_files_are_caught_without_a_quota_filesystem(
    bwrap: BwrapSandbox, work_root: Path, tarball: Path, tmp_path: Path
) -> None:
    # Where the worker may not mount (an unprivileged runner), the workspace is measured.
    script = "mkdir many && cd many && seq 3000 | xargs touch"
    limits = RunnerLimits(max_workspace_files=2000)
    result, _log, _took = execute(
        bwrap, work_root, tarball, tmp_path / "out", script, limits=limits, workspace_quota=False
    )
    assert (result.state, result.reason) == (
        ExecutionState.FAILED,
        FailureReason.DISK_QUOTA_EXCEEDED,
    )
    assert "more than 2000 files" in result.message


def test_a_step_cannot_write_past_the_disk_quota(
    bwrap: BwrapSandbox, work_root: Path, tarball: Path, tmp_path: Path
) -> None:
    script = "head -c 100000000 /dev/zero > a.bin; head -c 100000000 /dev/zero > b.bin"
    limits = RunnerLimits(max_workspace_bytes=64 * MiB)
    result, log, _took = execute(bwrap, work_root, tarball, tmp_path / "out", script, limits=limits)
    assert (result.state, result.reason) == (
        ExecutionState.FAILED,
        FailureReason.DISK_QUOTA_EXCEEDED,
    )
    assert "No space left on device" in log
    assert "disk quota of 64.0 MiB" in result.message


def _bomb(path: Path, *, members: int, member_bytes: int) -> Path:
    """A small gzip tarball that expands to members * member_bytes of zeros."""
    with tarfile.open(path, "w:gz", compresslevel=1) as archive:
        top = tarfile.TarInfo(TOP)
        top.type = tarfile.DIRTYPE
        archive.addfile(top)
        zeros = bytes(member_bytes)
        for i in range(members):
            info = tarfile.TarInfo(f"{TOP}/f{i}")
            info.size = member_bytes
            archive.addfile(info, io.BytesIO(zeros))
    return path


def test_a_tarball_bomb_stops_at_the_extracted_size_cap(
    bwrap: BwrapSandbox, work_root: Path, tmp_path: Path
) -> None:
    bomb = _bomb(tmp_path / "bomb.tar.gz", members=10, member_bytes=20 * MiB)
    assert bomb.stat().st_size < 1 * MiB  # 200 MiB of zeros
    limits = RunnerLimits(max_workspace_bytes=32 * MiB)
    result, log, took = execute(bwrap, work_root, bomb, tmp_path / "out", "true", limits=limits)
    assert (result.state, result.reason) == (
        ExecutionState.FAILED,
        FailureReason.WORKSPACE_TOO_LARGE,
    )
    assert "expands to more than 32.0 MiB" in result.message
    assert f"{TOP}/f1" in result.message  # the member where extraction stopped
    assert result.steps == ()  # no step ran
    assert result.message in log
    assert took < 10


def test_a_tarball_of_too_many_files_stops_at_the_file_cap(
    bwrap: BwrapSandbox, work_root: Path, tmp_path: Path
) -> None:
    bomb = _bomb(tmp_path / "many.tar.gz", members=3000, member_bytes=0)
    limits = RunnerLimits(max_workspace_files=1000)
    result, _log, _took = execute(bwrap, work_root, bomb, tmp_path / "out", "true", limits=limits)
    assert (result.state, result.reason) == (
        ExecutionState.FAILED,
        FailureReason.WORKSPACE_TOO_LARGE,
    )
    assert "more than 1000 files" in result.message


def test_processes_of_one_step_share_one_memory_limit(
    bwrap: BwrapSandbox, work_root: Path, tarball: Path, tmp_path: Path
) -> None:
    if not bwrap.memory_limit_is_aggregate:  # pragma: no cover - depends on the machine
        pytest.skip("this machine gives the worker no memory cgroup to delegate")
    # Each process stays under the per-process limit; together they are past the step's.
    hog = "python3 -c 'import time; b = b\"x\" * (150 << 20); time.sleep(3)'"
    script = f"{hog} & {hog} & wait"
    limits = RunnerLimits(step_memory_bytes=256 * MiB)
    result, _log, took = execute(bwrap, work_root, tarball, tmp_path / "out", script, limits=limits)
    assert (result.state, result.reason) == (
        ExecutionState.FAILED,
        FailureReason.MEMORY_LIMIT_EXCEEDED,
    )
    assert "memory limit of 256.0 MiB" in result.message
    assert "all its processes together" in result.message
    assert took < 15


def test_symlinks_out_of_the_repository_are_refused(
    bwrap: BwrapSandbox, work_root: Path, tarball: Path, tmp_path: Path
) -> None:
    script = "ln -s /etc/passwd abs && ln -s ../../outside src/up && ln -s README.md ok"
    result, _log, _took = execute(bwrap, work_root, tarball, tmp_path / "out", script)
    assert (result.state, result.reason) == (ExecutionState.FAILED, FailureReason.UNSAFE_SYMLINK)
    assert "'abs' (mode 120000) -> '/etc/passwd'" in result.message
    assert "'src/up' (mode 120000) -> '../../outside'" in result.message
    assert "'ok'" not in result.message
    assert result.patch_path is None


def test_outside_symlinks_are_published_when_the_campaign_allows_them(
    bwrap: BwrapSandbox, work_root: Path, tarball: Path, tmp_path: Path
) -> None:
    script = "ln -s /etc/passwd abs"
    result, _log, _took = execute(
        bwrap, work_root, tarball, tmp_path / "out", script, allow_outside_symlinks=True
    )
    assert result.state is ExecutionState.PATCH, result.message


def test_a_symlink_inside_the_repository_is_published(
    bwrap: BwrapSandbox, work_root: Path, tarball: Path, tmp_path: Path
) -> None:
    script = "ln -s ../README.md src/readme"
    result, _log, _took = execute(bwrap, work_root, tarball, tmp_path / "out", script)
    assert result.state is ExecutionState.PATCH, result.message


def test_files_the_tarball_alters_are_not_published(
    bwrap: BwrapSandbox, work_root: Path, tmp_path: Path
) -> None:
    tarball = github_tarball(
        tmp_path / "base",
        {
            ".gitattributes": b"VERSION export-subst\n*.bat eol=crlf\nsecret.txt export-ignore\n",
            "VERSION": b"$Format:%H$\n",
            "run.bat": b"echo hi\n",
            "secret.txt": b"left out of the tarball\n",
            "README.md": b"hello\n",
        },
    )
    # Each of these would be computed against a file that is not the committed one.
    for script, path, attribute in (
        ("echo 1.0 > VERSION", "VERSION", "export-subst"),
        ("echo 'echo bye' > run.bat", "run.bat", "eol=crlf"),
        ("echo new > secret.txt", "secret.txt", "export-ignore"),
    ):
        result, _log, _took = execute(bwrap, work_root, tarball, tmp_path / path, script)
        assert (result.state, result.reason) == (
            ExecutionState.FAILED,
            FailureReason.WORKSPACE_UNFAITHFUL,
        ), script
        assert f"'{path}' ({attribute})" in result.message
    # A change to a file the tarball holds as committed is published and applies.
    result, _log, _took = execute(
        bwrap, work_root, tarball, tmp_path / "ok", "echo bye >> README.md"
    )
    assert result.state is ExecutionState.PATCH, result.message
    assert result.patch_path is not None
    commit = tmp_path / "commit"
    commit.mkdir()
    apply_patch(fresh_base(commit, tarball), result.patch_path)


def test_a_step_sees_a_minimal_etc_and_runs_under_seccomp(
    bwrap: BwrapSandbox, work_root: Path, tarball: Path, tmp_path: Path
) -> None:
    script = (
        "ls /etc; echo ---; cat /etc/hosts /etc/passwd; "
        "test -e /etc/resolv.conf && echo HAS-RESOLV; test -e /etc/shadow && echo HAS-SHADOW; "
        "grep Seccomp: /proc/self/status; awk 'BEGIN { print \"awk works\" }'; id -un"
    )
    result, log, _took = execute(bwrap, work_root, tarball, tmp_path / "out", script)
    assert result.state is ExecutionState.NO_CHANGE, log
    assert "HAS-RESOLV" not in log and "HAS-SHADOW" not in log
    assert "postgres" not in log and "redis:" not in log  # the host's accounts
    assert "127.0.0.1\tlocalhost shoal-step" in log
    assert "awk works" in log and "\nnobody\n" in log
    if bwrap.seccomp_enabled:
        assert "Seccomp:\t2" in log


def test_all_steps_together_have_a_time_limit(
    bwrap: BwrapSandbox, work_root: Path, tarball: Path, tmp_path: Path
) -> None:
    limits = RunnerLimits(max_total_step_s=2.0)
    result, log, took = execute(
        bwrap, work_root, tarball, tmp_path / "out", "sleep 1.5", "sleep 1.5", limits=limits
    )
    assert (result.state, result.reason) == (ExecutionState.FAILED, FailureReason.STEP_TIMEOUT)
    assert "step 'step1' stopped" in result.message
    assert "at most 2s (SHOAL_MAX_TOTAL_STEP_SECONDS)" in result.message
    assert took < 6, log
