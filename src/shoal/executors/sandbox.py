"""The step sandbox port: what one step may use, what comes back, and the env it sees.

A `StepSandbox` runs one shell script in a workspace under limits, in the step's container
image when it names one. Implementations: `BwrapSandbox` (the local default: uid 65534 in
bubblewrap) and `ProcessSandbox` (no isolation, for a pod that is itself the sandbox); both
run with the tools of the machine they are on, so they refuse a step that names an image
(`refuse_image`).

Env discipline, shared by every sandbox: a step sees only the env its plan gives it plus a
few defaults, never the worker's own environment (that holds Shoal's credentials).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from shoal.domain.errors import InvalidInputError, UnavailableError

__all__ = [
    "DEFAULT_PATH",
    "SandboxUnavailableError",
    "StepLimits",
    "StepRun",
    "StepSandbox",
    "refuse_image",
    "step_environment",
]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class SandboxUnavailableError(UnavailableError):
    """The machine cannot run sandboxed steps (tool missing, user namespaces disabled).

    Not retryable: the same machine fails the same way until an operator fixes it.
    """

    code = "sandbox_unavailable"
    retryable = False


@dataclass(frozen=True, slots=True)
class StepLimits:
    timeout_s: float
    max_output_bytes: int = 1 << 20  # kept per step: half head, half tail; the rest counted
    memory_bytes: int = 4 << 30  # RLIMIT_AS of each process; all together where cgroups allow
    max_file_bytes: int = 1 << 30  # RLIMIT_FSIZE
    max_open_files: int = 4096
    max_processes: int = 4096  # RLIMIT_NPROC: per uid, parallel sandboxes share uid 65534

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise InvalidInputError(f"step timeout must be positive, got {self.timeout_s}")
        for name in ("max_output_bytes", "memory_bytes", "max_file_bytes"):
            if getattr(self, name) < 0:
                raise InvalidInputError(f"{name} must not be negative")
        if self.max_open_files < 1 or self.max_processes < 1:
            raise InvalidInputError("max_open_files and max_processes must be at least 1")


@dataclass(frozen=True, slots=True)
class StepRun:
    """What one step did. The output is raw (not redacted): the runner masks secrets."""

    exit_code: int | None  # None when killed at timeout; 128+N when killed by signal N
    timed_out: bool
    output_head: bytes  # stdout+stderr interleaved (one pipe)
    output_tail: bytes  # empty unless the output exceeded max_output_bytes
    output_dropped: int  # bytes between head and tail that were discarded
    duration_s: float
    # The kernel killed a process of the step for going past its aggregate memory limit.
    memory_exceeded: bool = False
    # The image the step ran in, when it ran in one: its reference as named, and the
    # content address the container runtime resolved it to (set by the podman sandbox).
    image: str | None = None
    image_digest: str | None = None


class StepSandbox(Protocol):
    def prepare(self, workspace: Path) -> None:
        """Make `workspace` usable by steps (e.g. owned by the sandbox uid)."""
        ...

    def run(
        self,
        script: str,
        *,
        workspace: Path,
        env: Mapping[str, str],
        limits: StepLimits,
        image: str | None = None,
    ) -> StepRun:
        """Run `script` with `workspace` as its working directory. `image` is the step's
        container image reference (`steps[].image`), None for the sandbox's own tools; a
        sandbox that cannot run images raises `InvalidInputError` for one."""
        ...


def refuse_image(image: str | None, *, sandbox: str) -> None:
    """Refuse a step image in a sandbox that runs the machine's own tools."""
    if image is not None:
        raise InvalidInputError(
            f"it names the container image {image!r}, but the {sandbox} runs steps with the "
            "tools installed on this machine, not in images: remove 'image' from the step, or "
            "set SHOAL_EXECUTOR=podman or kubernetes, which run each step in its image"
        )


def step_environment(env: Mapping[str, str], *, home: str, tmpdir: str) -> dict[str, str]:
    """The complete environment of a step: defaults overridden by the step's own `env`.

    LANG gets a UTF-8 default but LC_ALL does not: a default LC_ALL would override whatever
    LANG or LC_* the step sets itself.
    """
    merged = {"PATH": DEFAULT_PATH, "HOME": home, "TMPDIR": tmpdir, "LANG": "C.UTF-8"}
    for name, value in env.items():
        if not _ENV_NAME.fullmatch(name):
            raise InvalidInputError(f"invalid environment variable name {name!r}")
        if "\0" in value:
            # The value may be a secret: name the variable only.
            raise InvalidInputError(f"environment variable {name} contains a NUL byte")
        merged[name] = value
    return merged
