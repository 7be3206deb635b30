"""Reading what executions left in object storage: patches and whole logs."""

from __future__ import annotations

from collections.abc import Iterator

from shoal.domain.errors import NotFoundError
from shoal.services.context import AppContext
from shoal.services.runs import get_execution

__all__ = ["open_log", "open_patch"]


def open_patch(ctx: AppContext, run_id: int, repo: str) -> Iterator[bytes]:
    """The patch's bytes, streamed; opened before returning so a missing object fails early."""
    execution, _target = get_execution(ctx, run_id, repo)
    if execution.patch_key is None:
        raise NotFoundError(
            f"{execution.repo} has no patch in run {run_id} (state {execution.state.value})",
            details={"run": run_id, "repo": execution.repo, "state": execution.state.value},
        )
    return ctx.blobs.iter_chunks(execution.patch_key)


def open_log(ctx: AppContext, run_id: int, repo: str) -> Iterator[bytes]:
    execution, _target = get_execution(ctx, run_id, repo)
    if execution.log_key is None:
        # Failures before any step ran (no workspace, missing secret) keep only their message.
        return iter([execution.log_tail.encode() + b"\n"])
    return ctx.blobs.iter_chunks(execution.log_key)
