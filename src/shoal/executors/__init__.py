"""Executors: where an Execution's steps run, and the sandboxes that hold each step.

`BwrapSandbox` (uid 65534 in bubblewrap) is the local default; `ProcessSandbox` is only for a
pod that is itself the sandbox. `LocalExecutor` runs whole Executions on this machine.
"""

from shoal.executors.bwrap import BwrapSandbox
from shoal.executors.process import ProcessSandbox
from shoal.executors.sandbox import (
    SandboxUnavailableError,
    StepLimits,
    StepRun,
    StepSandbox,
)

__all__ = [
    "BwrapSandbox",
    "ProcessSandbox",
    "SandboxUnavailableError",
    "StepLimits",
    "StepRun",
    "StepSandbox",
]
