"""LocalExecutor beyond the executor contract (tests/executors/contract): its scratch space and
its parallelism."""

from __future__ import annotations

import io
import tarfile
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from shoal.domain.errors import InvalidInputError
from shoal.domain.executions import ExecutionState, FailureReason
from shoal.execution import ExecutionRequest, StepPlan
from shoal.executors import BwrapSandbox, StepLimits, StepRun
from shoal.executors.local import LocalExecutor


def make_tarball(path: Path, files: Mapping[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, content in files.items():
            data = content.encode()
            info = tarfile.TarInfo(f"acme-api-0123abc/{name}")
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return path


def request(*scripts: str, secrets: Mapping[str, str] | None = None) -> ExecutionRequest:
    steps = tuple(
        StepPlan(
            name=f"step{i}",
            run=script,
            env={"LC_ALL": "C"},
            secrets=tuple(secrets or {}),
            timeout_s=10,
            condition=None,
        )
        for i, script in enumerate(scripts)
    )
    return ExecutionRequest(
        steps=steps, context={"repo": {"name": "acme/api"}}, secrets=secrets or {}
    )


@pytest.fixture
def tarball(tmp_path: Path) -> Path:
    return make_tarball(
        tmp_path / "repo.tar.gz",
        {".github/workflows/ci.yml": "uses: actions/checkout@v3\n", "README.md": "hi\n"},
    )


def test_a_failing_step_is_a_result_and_the_scratch_dir_is_removed(
    bwrap: BwrapSandbox, scratch: Path, tarball: Path, tmp_path: Path
) -> None:
    executor = LocalExecutor(bwrap, work_root=scratch / "work", parallelism=1)
    result = executor.execute(
        request("mkdir -p ro/sub && touch ro/sub/f && chmod 0500 ro/sub ro && exit 4"),
        tarball,
        tmp_path / "out",
    )
    assert (result.state, result.reason) == (ExecutionState.FAILED, FailureReason.STEP_EXIT_CODE)
    assert result.steps[0].exit_code == 4
    assert list((scratch / "work").iterdir()) == []


def test_scratch_dir_is_removed_when_the_workspace_cannot_be_made(
    bwrap: BwrapSandbox, scratch: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not a tarball")
    executor = LocalExecutor(bwrap, work_root=scratch / "work", parallelism=1)
    with pytest.raises(InvalidInputError):
        executor.execute(request("true"), bad, tmp_path / "out")
    assert list((scratch / "work").iterdir()) == []


class CountingSandbox:
    """The real sandbox, recording how many steps run at once."""

    def __init__(self, inner: BwrapSandbox) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.running = 0
        self.most = 0

    def prepare(self, workspace: Path) -> None:
        self._inner.prepare(workspace)

    def run(
        self,
        script: str,
        *,
        workspace: Path,
        env: Mapping[str, str],
        limits: StepLimits,
        image: str | None = None,
    ) -> StepRun:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            return self._inner.run(script, workspace=workspace, env=env, limits=limits, image=image)
        finally:
            with self._lock:
                self.running -= 1


def test_parallelism_is_bounded(bwrap: BwrapSandbox, scratch: Path, tmp_path: Path) -> None:
    counting = CountingSandbox(bwrap)
    executor = LocalExecutor(counting, work_root=scratch / "work", parallelism=2)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=5) as pool:
        results = list(
            pool.map(
                lambda i: executor.execute(request("sleep 0.4"), None, tmp_path / f"out{i}"),
                range(5),
            )
        )
    assert all(r.state is ExecutionState.NO_CHANGE for r in results)
    assert counting.most == 2
    assert time.monotonic() - started >= 1.2  # three waves of at most two


def test_parallelism_must_be_positive(bwrap: BwrapSandbox, scratch: Path) -> None:
    with pytest.raises(InvalidInputError):
        LocalExecutor(bwrap, work_root=scratch, parallelism=0)
