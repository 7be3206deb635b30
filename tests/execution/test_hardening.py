"""A step controls the workspace, never the worker's git: no hook, fsmonitor, filter or textconv
planted in the workspace (or in the worker's environment) runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoal.domain.executions import ExecutionState
from tests.execution.conftest import Execute, github_tarball, step


@pytest.fixture
def trap(tmp_path: Path) -> Path:
    """A script that leaves a marker file when anything runs it."""
    markers = tmp_path / "markers"
    markers.mkdir()
    script = tmp_path / "trap.sh"
    script.write_text(f'#!/bin/sh\ntouch "{markers}/ran-$$"\ncat\n')
    script.chmod(0o755)
    return script


def planted_config(trap: Path) -> str:
    return f"""[core]
\tfsmonitor = {trap}
\thooksPath = hooks
\tpager = {trap}
\tattributesFile = attributes
[filter "pwn"]
\tclean = {trap}
\tsmudge = {trap}
\tprocess = {trap}
\trequired = true
[diff "pwn"]
\ttextconv = {trap}
\tcommand = {trap}
[diff]
\texternal = {trap}
[safe]
\tdirectory = *
"""


def test_git_config_planted_in_the_workspace_runs_nothing(
    execute: Execute, tmp_path: Path, trap: Path
) -> None:
    tarball = github_tarball(tmp_path / "base", {"README.md": b"hello\n"})
    config = planted_config(trap)
    script = f"""
        for dir in .git sub/.git; do
            mkdir -p $dir/hooks $dir/objects $dir/refs
            echo 'ref: refs/heads/main' > $dir/HEAD
            cat > $dir/config <<'EOF'
{config}EOF
            for hook in pre-commit post-index-change fsmonitor-watchman reference-transaction; do
                cp {trap} $dir/hooks/$hook
            done
        done
        echo '* filter=pwn diff=pwn' > .gitattributes
        echo '* filter=pwn diff=pwn' > attributes
        echo changed > README.md
    """
    done = execute([step(script)], tarball)
    assert list((tmp_path / "markers").iterdir()) == []
    assert done.result.state is ExecutionState.PATCH, done.log
    paths = {f.path for f in done.result.files}
    assert paths == {"README.md", ".gitattributes", "attributes"}
    assert "warning: sub/ is a git repository of its own (it has a .git): " in done.log
    assert done.result.patch_path is not None
    assert b"+changed\n" in done.result.patch_path.read_bytes()  # not a textconv'd version


def test_the_workers_git_environment_is_not_inherited(
    execute: Execute, tmp_path: Path, trap: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing below the entrypoint should trust GIT_* variables of the worker's process.
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", f"'core.fsmonitor'='{trap}'")
    monkeypatch.setenv("GIT_EXTERNAL_DIFF", str(trap))
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "index"))
    monkeypatch.setenv("GIT_TRACE", str(tmp_path / "trace"))
    tarball = github_tarball(tmp_path / "base", {"README.md": b"hello\n"})
    done = execute([step("echo changed > README.md")], tarball)
    assert done.result.state is ExecutionState.PATCH, done.log
    assert list((tmp_path / "markers").iterdir()) == []
    assert not (tmp_path / "trace").exists() and not (tmp_path / "index").exists()


def test_the_baseline_is_outside_the_workspace(execute: Execute, tmp_path: Path) -> None:
    tarball = github_tarball(tmp_path / "base", {"README.md": b"hello\n"})
    # A step that rewrites git state in its workspace cannot move the baseline.
    done = execute(
        [step("rm -rf .git; git init -q . 2>/dev/null; echo x > new.txt")],
        tarball,
    )
    workspace = done.workspace
    assert not workspace.git_dir.is_relative_to(workspace.path)
    assert [f.path for f in done.result.files] == ["new.txt"]
