"""A minimal StepSandbox for the runner's tests: `sh -c` in the workspace, nothing more.

It honours the protocol (only the given env plus defaults, one output pipe, head/tail capture,
timeout with the process group killed) without isolation, so the runner can be tested without
depending on the real sandboxes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from shoal.executors.sandbox import StepLimits, StepRun

__all__ = ["SubprocessSandbox"]


class SubprocessSandbox:
    def __init__(self) -> None:
        self.prepared: list[Path] = []
        self.envs: list[dict[str, str]] = []

    def prepare(self, workspace: Path) -> None:
        self.prepared.append(workspace)

    def run(
        self,
        script: str,
        *,
        workspace: Path,
        env: Mapping[str, str],
        limits: StepLimits,
        image: str | None = None,
    ) -> StepRun:
        self.envs.append(dict(env))
        with tempfile.TemporaryDirectory(prefix="shoal-test-home-") as home:
            full_env = {"PATH": os.defpath, "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8"}
            full_env.update(env)
            start = time.monotonic()
            proc = subprocess.Popen(
                ["/bin/sh", "-c", script],
                cwd=workspace,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            timed_out = False
            try:
                output, _ = proc.communicate(timeout=limits.timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                output, _ = proc.communicate()
            duration = time.monotonic() - start
        limit = limits.max_output_bytes
        head, tail, dropped = output, b"", 0
        if len(output) > limit:
            half = limit // 2
            head, tail = output[:half], output[len(output) - (limit - half) :]
            dropped = len(output) - limit
        return StepRun(
            exit_code=None if timed_out else proc.returncode,
            timed_out=timed_out,
            output_head=head,
            output_tail=tail,
            output_dropped=dropped,
            duration_s=duration,
        )
