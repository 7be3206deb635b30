"""What the runner hands back: the outcome, a report per step, the log, the Patch and its summary.

`ExecutionResult` crosses a process boundary (`shoal runner` -> worker) as JSON, next to the
files it names; in JSON its paths are relative to the output directory.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from shoal.domain.errors import InvalidInputError
from shoal.domain.executions import DiffFile, ExecutionState, FailureReason

__all__ = ["ExecutionResult", "StepReport"]


@dataclass(frozen=True, slots=True)
class StepReport:
    name: str
    skipped: bool
    exit_code: int | None
    timed_out: bool
    duration_s: float
    output_dropped: int
    # The image the step ran in (none for the local executor, nor for a skipped step): the
    # reference the spec named (or the executor's default step image) and the content
    # address it resolved to when the step ran (podman: the image ID, `sha256:...`;
    # kubernetes: the step container's `imageID` from the pod status). A tag rebuilt between
    # two executions shows as two digests.
    image: str | None = None
    image_digest: str | None = None


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    state: ExecutionState  # NO_CHANGE | PATCH | FAILED
    reason: FailureReason | None  # set when FAILED
    message: str  # one line for humans
    steps: tuple[StepReport, ...]
    log_path: Path  # redacted log of all steps, capped
    patch_path: Path | None  # `git diff --binary` against the base, when state is PATCH
    patch_sha256: str | None
    patch_bytes: int
    files: tuple[DiffFile, ...]  # the DiffSummary, when state is PATCH

    def to_json(self) -> str:
        """JSON with file names relative to the output directory (the log's directory)."""
        out_dir = self.log_path.parent
        relative = replace(
            self,
            log_path=self.log_path.relative_to(out_dir),
            patch_path=self.patch_path.relative_to(out_dir) if self.patch_path else None,
        )
        return _adapter().dump_json(relative).decode()

    @classmethod
    def from_json(cls, text: str | bytes, out_dir: Path) -> ExecutionResult:
        """Read a result whose files are in `out_dir`; paths may not point outside it."""
        try:
            result = _adapter().validate_json(text)
        except ValidationError as exc:
            raise InvalidInputError(f"invalid execution result: {exc}") from None
        return replace(
            result,
            log_path=_inside(out_dir, result.log_path),
            patch_path=_inside(out_dir, result.patch_path) if result.patch_path else None,
        )


def _inside(out_dir: Path, relative: Path) -> Path:
    # The result may come from a sandboxed runner: it must not name the worker's files.
    if relative.is_absolute() or ".." in relative.parts:
        raise InvalidInputError(f"execution result names a file outside its directory: {relative}")
    return out_dir / relative


@functools.cache
def _adapter() -> TypeAdapter[ExecutionResult]:
    return TypeAdapter(ExecutionResult)
