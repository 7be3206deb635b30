"""`ProcessSandbox`: steps as plain child processes, with no isolation at all.

Only for a place that is itself the sandbox: a Kubernetes pod running `shoal runner` as a
non-root user with a read-only root filesystem, no service-account token and egress denied.
It must never be the local default: on a worker machine a step would run with the worker's
uid, next to its keys and its network.

It keeps the same discipline as `BwrapSandbox` where a process can: the step sees only its own
env (plus defaults), a fresh private HOME/TMPDIR, rlimits, stdin on /dev/null, one output pipe,
and its process group is killed at the timeout and after it exits. A child that leaves the
group (`setsid`) escapes that kill; in a pod the pod's end reaps it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from shoal.domain.clock import Clock, SystemClock
from shoal.executors.sandbox import (
    SandboxUnavailableError,
    StepLimits,
    StepRun,
    refuse_image,
    step_environment,
)
from shoal.executors.supervise import rlimit_argv, supervise
from shoal.executors.tools import find_tool

__all__ = ["ProcessSandbox"]


class ProcessSandbox:
    """Runs each step with `/bin/sh -c` in the workspace, as the current user."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        home_root: Path | None = None,
        kill_grace_s: float = 2.0,
        allow_root: bool = False,
    ) -> None:
        if os.geteuid() == 0 and not allow_root:
            raise SandboxUnavailableError(
                "the process sandbox does not isolate steps and refuses to run them as root: "
                "run the runner as a non-root user, or use the bwrap sandbox"
            )
        self._clock = clock or SystemClock()
        self._home_root = home_root
        self._kill_grace_s = kill_grace_s
        self._prlimit = find_tool("prlimit", package="util-linux")

    def prepare(self, workspace: Path) -> None:
        # The step runs as the current user, who already owns the workspace.
        if not workspace.is_dir():
            raise SandboxUnavailableError(f"workspace {workspace} is not a directory")

    def run(
        self,
        script: str,
        *,
        workspace: Path,
        env: Mapping[str, str],
        limits: StepLimits,
        image: str | None = None,
    ) -> StepRun:
        refuse_image(image, sandbox="process sandbox")
        with tempfile.TemporaryDirectory(
            prefix="shoal-step-", dir=self._home_root, ignore_cleanup_errors=True
        ) as home:
            return supervise(
                [*rlimit_argv(self._prlimit, limits), "/bin/sh", "-c", script],
                env=step_environment(env, home=home, tmpdir=home),
                cwd=workspace,
                limits=limits,
                clock=self._clock,
                kill_grace_s=self._kill_grace_s,
            )
