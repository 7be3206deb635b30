"""Fixtures for the runner: GitHub-like tarballs made with real git, and one-call executions."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from shoal.execution import (
    ExecutionRequest,
    ExecutionResult,
    RunnerLimits,
    StepPlan,
    Workspace,
    prepare_workspace,
    run_execution,
)
from tests.execution.subprocess_sandbox import SubprocessSandbox

TOP = "acme-widget-1a2b3c4"
CONTEXT: dict[str, Any] = {
    "repo": {"owner": "acme", "name": "widget", "full_name": "acme/widget", "language": "Python"},
    "campaign": {"id": 1, "name": "bump"},
    "spec": {"version": 1, "hash": "ab" * 32},
}
_GIT_ENV = {
    "PATH": os.defpath,
    "HOME": "/nonexistent",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}

Files = Mapping[str | bytes, bytes]
NOTHING: Mapping[str, str] = MappingProxyType({})


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    """The test's own git (not the runner's), isolated from this machine's config."""
    return subprocess.run(
        ["git", *args], cwd=cwd, env=_GIT_ENV, capture_output=True, check=check, timeout=60
    )


def write_files(root: Path, files: Files, symlinks: Mapping[str, str] = NOTHING) -> None:
    for name, content in files.items():
        path = Path(os.fsdecode(name))
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    for name, link_to in symlinks.items():
        (root / name).symlink_to(link_to)


def github_tarball(
    root: Path,
    files: Files,
    symlinks: Mapping[str, str] = NOTHING,
    executable: tuple[str, ...] = (),
) -> Path:
    """A tarball like GitHub's `/tarball/<sha>`: `git archive` with one top-level directory."""
    src = root / "src"
    src.mkdir(parents=True)
    git(src, "init", "-q")
    write_files(src, files, symlinks)
    for name in executable:
        (src / name).chmod(0o755)
    git(src, "add", "-A", "--force")
    git(src, "commit", "-q", "--allow-empty", "-m", "base")
    tarball = root / "base.tar.gz"
    git(src, "archive", "--format=tar.gz", f"--prefix={TOP}/", "-o", str(tarball), "HEAD")
    return tarball


def fresh_base(root: Path, tarball: Path) -> Path:
    """The base commit extracted independently of the runner (plain tar)."""
    base = root / "fresh"
    base.mkdir()
    subprocess.run(
        ["tar", "-xzf", str(tarball), "-C", str(base), "--strip-components=1"],
        check=True,
        timeout=60,
    )
    return base


def apply_patch(base: Path, patch: Path) -> None:
    """`git apply --check`, then apply: the patch must apply cleanly to the base."""
    check = git(base, "apply", "--check", str(patch), check=False)
    assert check.returncode == 0, check.stderr.decode(errors="replace")
    git(base, "apply", str(patch))


def tree_of(root: Path) -> dict[str, bytes]:
    """Every file and symlink under `root` (symlinks as `-> target`), keyed by relative path."""
    found: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                found[rel] = b"-> " + os.fsencode(os.readlink(path))
            else:
                found[rel] = Path(path).read_bytes()
    return found


def step(run: str, name: str = "step", **fields: Any) -> StepPlan:
    values: dict[str, Any] = {"env": {}, "secrets": (), "timeout_s": 30.0, "condition": None}
    values.update(fields)
    return StepPlan(name=name, run=run, **values)


@dataclass
class Execution:
    result: ExecutionResult
    workspace: Workspace
    sandbox: SubprocessSandbox

    @property
    def log(self) -> str:
        return self.result.log_path.read_bytes().decode("utf-8", errors="backslashreplace")


Execute = Callable[..., Execution]


@pytest.fixture
def execute(tmp_path: Path) -> Execute:
    """Prepare a workspace from `tarball` and run `steps` in it with the subprocess sandbox."""
    counter = iter(range(1000))

    def run(
        steps: list[StepPlan],
        tarball: Path | None = None,
        *,
        secrets: Mapping[str, str] = NOTHING,
        limits: RunnerLimits | None = None,
        context: Mapping[str, Any] = CONTEXT,
    ) -> Execution:
        n = next(counter)
        workspace = prepare_workspace(tarball, tmp_path / f"run{n}" / "workspace")
        sandbox = SubprocessSandbox()
        sandbox.prepare(workspace.path)
        request = ExecutionRequest(
            steps=tuple(steps),
            context=context,
            secrets=dict(secrets),
            limits=limits or RunnerLimits(),
        )
        result = run_execution(request, workspace, sandbox, tmp_path / f"run{n}" / "out")
        return Execution(result, workspace, sandbox)

    return run
