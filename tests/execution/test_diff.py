"""The Patch and the DiffSummary: statuses, binaries, odd names, limits, and clean application."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from shoal.domain.executions import DiffFile, ExecutionState, FailureReason, FileStatus
from shoal.execution import RunnerLimits
from tests.execution.conftest import (
    Execute,
    apply_patch,
    fresh_base,
    github_tarball,
    step,
    tree_of,
)

LINES = b"".join(b"line %d\n" % i for i in range(1, 101))


@pytest.fixture
def tarball(tmp_path: Path) -> Path:
    return github_tarball(
        tmp_path / "base",
        {
            "docs/guide.md": LINES,
            "obsolete.txt": b"old\nstuff\n",
            "tool.sh": b"#!/bin/sh\necho tool\n",
            "config.yml": b"a: 1\n",
            "logo.bin": bytes(range(256)) * 4,
        },
        symlinks={"latest": "docs/guide.md"},
    )


def changed_by(
    execute: Execute, tarball: Path, script: str, **limits: int
) -> tuple[ExecutionState, tuple[DiffFile, ...], Path | None]:
    done = execute([step(script)], tarball, limits=RunnerLimits(**limits))
    return done.result.state, done.result.files, done.result.patch_path


def test_every_kind_of_change_is_summarized_and_the_patch_reproduces_it(
    execute: Execute, tarball: Path, tmp_path: Path
) -> None:
    script = """
        git_mv() { mkdir -p "$(dirname "$2")"; mv "$1" "$2"; }
        git_mv docs/guide.md handbook/guide.md && echo 'line 101' >> handbook/guide.md
        rm obsolete.txt
        chmod +x config.yml
        echo 'b: 2' >> config.yml
        printf '\\000\\001\\002binary' > data.bin
        printf 'caf\\351\\n' > "$(printf 'caf\\351.txt')"
        rm latest && echo 'now a file' > latest
        printf 'no newline at end' > tool.sh
    """
    done = execute([step(script)], tarball)
    result = done.result
    assert result.state is ExecutionState.PATCH, done.log
    summary = {f.path: f for f in result.files}
    assert summary == {
        "caf\\xe9.txt": DiffFile("caf\\xe9.txt", None, FileStatus.ADDED, 1, 0, False, 5),
        "config.yml": DiffFile("config.yml", None, FileStatus.MODIFIED, 1, 0, False, 10),
        "data.bin": DiffFile("data.bin", None, FileStatus.ADDED, 0, 0, True, 9),
        "handbook/guide.md": DiffFile(
            "handbook/guide.md", "docs/guide.md", FileStatus.RENAMED, 1, 0, False, len(LINES) + 9
        ),
        "latest": DiffFile("latest", None, FileStatus.TYPE_CHANGED, 1, 1, False, 11),
        "obsolete.txt": DiffFile("obsolete.txt", None, FileStatus.DELETED, 0, 2, False, 10),
        "tool.sh": DiffFile("tool.sh", None, FileStatus.MODIFIED, 1, 2, False, 17),
    }
    assert result.patch_path is not None
    patch = result.patch_path.read_bytes()
    assert b"caf\xe9.txt" in patch  # raw bytes: core.quotePath=false
    assert result.patch_sha256 == hashlib.sha256(patch).hexdigest()
    base = fresh_base(tmp_path, tarball)
    apply_patch(base, result.patch_path)
    assert tree_of(base) == tree_of(done.workspace.path)
    assert (base / "config.yml").stat().st_mode & 0o100


def test_a_small_binary_file_is_a_binary_patch_that_applies(
    execute: Execute, tarball: Path, tmp_path: Path
) -> None:
    script = "head -c 100000 /dev/urandom > blob.bin; printf 'x' >> logo.bin"
    state, files, patch = changed_by(execute, tarball, script)
    assert state is ExecutionState.PATCH
    assert [(f.path, f.status, f.binary, f.size) for f in files] == [
        ("blob.bin", FileStatus.ADDED, True, 100_000),
        ("logo.bin", FileStatus.MODIFIED, True, 1025),
    ]
    assert patch is not None and b"GIT binary patch" in patch.read_bytes()
    base = fresh_base(tmp_path, tarball)
    apply_patch(base, patch)
    assert (base / "blob.bin").stat().st_size == 100_000


def test_a_binary_file_over_the_cap_fails(execute: Execute, tarball: Path) -> None:
    done = execute(
        [step("head -c 3000 /dev/urandom > small.bin; head -c 2000000 /dev/urandom > big.bin")],
        tarball,
        limits=RunnerLimits(max_binary_file_bytes=1 << 20),
    )
    assert done.result.state is ExecutionState.FAILED
    assert done.result.reason is FailureReason.BINARY_TOO_LARGE
    assert done.result.message == (
        "binary file 'big.bin' is 1.9 MiB, larger than the limit of 1.0 MiB for binary files"
    )
    assert done.result.patch_path is None
    assert not (done.result.log_path.parent / "patch.diff").exists()


def test_a_50_mb_file_is_too_large_before_git_reads_it(execute: Execute, tarball: Path) -> None:
    done = execute([step("head -c 50000000 /dev/urandom | base64 > big.txt")], tarball)
    result = done.result
    assert result.state is ExecutionState.FAILED
    assert result.reason is FailureReason.DIFF_TOO_LARGE
    assert result.message.startswith("'big.txt' is 64.4 MiB (apparent size)")
    assert "larger than 10.0 MiB cannot fit in a patch" in result.message
    assert result.patch_path is None
    assert not (result.log_path.parent / "patch.diff").exists()
    assert result.message in done.log


def test_a_diff_of_many_files_past_the_patch_cap_is_too_large(
    execute: Execute, tarball: Path
) -> None:
    script = "for i in 1 2 3 4 5 6; do head -c 1500000 /dev/urandom | base64 > big$i.txt; done"
    done = execute([step(script)], tarball)
    result = done.result
    assert result.state is ExecutionState.FAILED
    assert result.reason is FailureReason.DIFF_TOO_LARGE
    assert result.message.startswith("the patch is 1")  # 12.x MiB of base64 lines
    assert result.message.endswith("MiB, larger than the limit of 10.0 MiB")
    assert result.patch_path is None
    assert not (result.log_path.parent / "patch.diff").exists()
    assert result.message in done.log


def test_deleting_every_file_is_a_change(execute: Execute, tarball: Path, tmp_path: Path) -> None:
    state, files, patch = changed_by(execute, tarball, "rm -rf ./* && ls -A")
    assert state is ExecutionState.PATCH
    assert {f.status for f in files} == {FileStatus.DELETED}
    assert len(files) == 6
    assert patch is not None
    base = fresh_base(tmp_path, tarball)
    apply_patch(base, patch)
    assert tree_of(base) == {}


def test_a_mode_change_alone_is_a_change(execute: Execute, tarball: Path) -> None:
    state, files, _ = changed_by(execute, tarball, "chmod +x config.yml")
    assert state is ExecutionState.PATCH
    assert [(f.path, f.status, f.added, f.deleted) for f in files] == [
        ("config.yml", FileStatus.MODIFIED, 0, 0)
    ]


def test_touching_files_without_changing_them_is_no_change(execute: Execute, tarball: Path) -> None:
    state, files, patch = changed_by(
        execute, tarball, "touch ./*; cp config.yml c && mv c config.yml; chmod -R u+w ."
    )
    assert (state, files, patch) == (ExecutionState.NO_CHANGE, (), None)


def test_nested_repositories_are_left_out_with_a_warning(
    execute: Execute, tarball: Path, tmp_path: Path
) -> None:
    script = """
        export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
        git init -q vendor/tool && echo code > vendor/tool/main.c
        git -C vendor/tool add main.c
        git -C vendor/tool -c user.name=a -c user.email=a@b commit -qm tool
        mkdir -p 'odd [dir]' && git init -q 'odd [dir]/empty-repo'
        echo keep > kept.txt
    """
    done = execute([step(script)], tarball)
    assert done.result.state is ExecutionState.PATCH, done.log
    assert [f.path for f in done.result.files] == ["kept.txt"]
    assert "warning: vendor/tool/ is a git repository of its own" in done.log
    assert "warning: odd [dir]/empty-repo/ is a git repository of its own" in done.log
    assert done.result.patch_path is not None
    apply_patch(fresh_base(tmp_path, tarball), done.result.patch_path)
