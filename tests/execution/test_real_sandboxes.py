"""The runner with the real sandboxes: bubblewrap as uid 65534, and the plain process sandbox.

The bwrap sandbox hands the workspace to uid 65534, so the worker's git (as root here) reads
files another user owns and wrote: `safe.directory` and the hardening must hold there too.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from shoal.domain.executions import ExecutionState, FailureReason
from shoal.execution import ExecutionRequest, prepare_workspace, run_execution
from shoal.executors import BwrapSandbox, ProcessSandbox, SandboxUnavailableError, StepSandbox
from tests.execution.conftest import (
    CONTEXT,
    apply_patch,
    fresh_base,
    github_tarball,
    step,
    tree_of,
)


@pytest.fixture(scope="module")
def bwrap() -> BwrapSandbox:
    try:
        return BwrapSandbox(kill_grace_s=0.5)
    except SandboxUnavailableError as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"bubblewrap unavailable: {exc.message}")


@pytest.fixture
def scratch() -> Iterator[Path]:
    # pytest's tmp dirs are 0700 under /tmp/pytest-of-root: uid 65534 could not mount them.
    path = Path(tempfile.mkdtemp(prefix="shoal-exec-test-"))
    path.chmod(0o711)
    yield path
    shutil.rmtree(path)


def run(
    sandbox: StepSandbox, scratch: Path, tarball: Path, script: str, **secrets: str
) -> tuple[ExecutionState, FailureReason | None, Path | None, str, Path]:
    workspace = prepare_workspace(tarball, scratch / "workspace")
    sandbox.prepare(workspace.path)
    request = ExecutionRequest(
        steps=(step(script, name="bump", secrets=tuple(secrets), timeout_s=20),),
        context=CONTEXT,
        secrets=secrets,
    )
    result = run_execution(request, workspace, sandbox, scratch / "out")
    log = result.log_path.read_text(errors="backslashreplace")
    return result.state, result.reason, result.patch_path, log, workspace.path


@pytest.mark.parametrize("kind", ["bwrap", "process"])
def test_a_sandboxed_step_produces_a_patch_that_applies(
    kind: str, bwrap: BwrapSandbox, scratch: Path, tmp_path: Path
) -> None:
    sandbox = bwrap if kind == "bwrap" else ProcessSandbox(kill_grace_s=0.5, allow_root=True)
    tarball = github_tarball(
        tmp_path / "base", {"ci.yml": b"uses: actions/checkout@v3\n", "keep.txt": b"k\n"}
    )
    script = (
        'id -u; echo "token=$TOKEN"; sed -i s/@v3/@v4/ ci.yml; rm keep.txt; '
        "mkdir -p new && printf '\\001\\002' > new/b.bin"
    )
    state, reason, patch, log, workspace = run(
        sandbox, scratch, tarball, script, TOKEN="tok-123456789"
    )
    assert (state, reason) == (ExecutionState.PATCH, None), log
    assert "tok-123456789" not in log and "token=***" in log
    if kind == "bwrap":
        assert "\n65534\n" in log
    assert patch is not None
    base = fresh_base(tmp_path, tarball)
    apply_patch(base, patch)
    assert tree_of(base) == tree_of(workspace)


def test_planted_git_config_runs_nothing_with_bwrap(
    bwrap: BwrapSandbox, scratch: Path, tmp_path: Path
) -> None:
    markers = scratch / "markers"
    markers.mkdir(mode=0o777)
    markers.chmod(0o777)  # writable by anyone: the trap would succeed if anything ran it
    tarball = github_tarball(tmp_path / "base", {"README.md": b"hello\n"})
    # The trap lives in the workspace: what a step could plant for the worker to run. Its
    # path is the one the worker sees (a step could guess it), not /workspace.
    trap = scratch / "workspace" / "trap.sh"
    script = f"""
        printf '#!/bin/sh\\ntouch {markers}/ran-$$\\ncat\\n' > trap.sh && chmod +x trap.sh
        mkdir -p .git/hooks && cp trap.sh .git/hooks/post-index-change
        printf '[core]\\n\\tfsmonitor = {trap}\\n[filter "x"]\\n\\tclean = {trap}\\n' > .git/config
        echo '* filter=x' > .gitattributes
        echo changed > README.md
    """
    state, reason, _, log, workspace = run(bwrap, scratch, tarball, script)
    assert (state, reason) == (ExecutionState.PATCH, None), log
    assert list(markers.iterdir()) == []
    assert (workspace / ".git" / "config").exists()  # planted, and ignored
