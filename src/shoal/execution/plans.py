"""What the runner is asked to do: the steps, their context and secrets, and the limits.

An `ExecutionRequest` crosses a process boundary (worker -> `shoal runner`) as JSON. It
carries secret values: write it only to private files or pipes, never to a log.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from shoal.domain.egress import EgressRule
from shoal.domain.errors import InvalidInputError

__all__ = ["ExecutionRequest", "RunnerLimits", "StepPlan"]


@dataclass(frozen=True, slots=True)
class StepPlan:
    """One step of the spec, as the runner needs it."""

    name: str
    run: str
    env: Mapping[str, str]
    secrets: tuple[str, ...]  # names; the values come from ExecutionRequest.secrets
    timeout_s: float
    condition: str | None  # the spec's `if:` template
    # The spec's `image` (a reference: name[:tag][@sha256:...]); None runs the step with the
    # sandbox's own tools. Executors that cannot run images refuse a step that sets one.
    image: str | None = None


@dataclass(frozen=True, slots=True)
class RunnerLimits:
    max_step_output_bytes: int = 1 << 20
    max_log_bytes: int = 8 << 20  # the whole execution log kept
    max_patch_bytes: int = 10 << 20
    max_binary_file_bytes: int = 5 << 20
    # The workspace's disk quota: what extraction may write and what steps may grow it to.
    max_workspace_bytes: int = 2 << 30
    max_workspace_files: int = 200_000
    step_memory_bytes: int = 4 << 30  # all processes of one step together, where enforceable
    max_total_step_s: float = 3600.0  # all steps of the execution together
    max_diff_s: float = 120.0  # the worker's git work after the steps (stage, summary, patch)

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            if getattr(self, name) <= 0:
                raise InvalidInputError(f"runner limit {name} must be positive")


@dataclass(frozen=True, slots=True)
class ExecutionRequest:
    steps: tuple[StepPlan, ...]
    context: Mapping[str, Any]  # template context: {"repo": {...}, "campaign": {...}, ...}
    secrets: Mapping[str, str]  # name -> value, only what the steps list
    limits: RunnerLimits = field(default_factory=RunnerLimits)
    # Publish symlinks whose target is absolute or outside the repository (off: refused).
    allow_outside_symlinks: bool = False
    # Destinations the steps may reach (the global and the campaign's allowlist together).
    # The executor enforces it around the steps; the runner itself does nothing with it.
    egress: tuple[EgressRule, ...] = ()

    def to_json(self) -> str:
        return _adapter().dump_json(self).decode()

    @classmethod
    def from_json(cls, text: str | bytes) -> ExecutionRequest:
        try:
            return _adapter().validate_json(text)
        except ValidationError as exc:
            # Only locations and messages: the input holds secret values.
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
                for error in exc.errors(include_input=False)
            )
            raise InvalidInputError(f"invalid execution request: {problems}") from None


@functools.cache
def _adapter() -> TypeAdapter[ExecutionRequest]:
    return TypeAdapter(ExecutionRequest)
