"""The task queue: what is waiting, running and dead-lettered; re-queueing dead tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from shoal.api.deps import Ctx, Operator, Viewer
from shoal.api.paths import API_PREFIX
from shoal.domain.tasks import TaskState
from shoal.services import tasks

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, tags=["tasks"])


class TaskOut(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)
    id: int
    kind: str
    dedupe_key: str
    payload: dict[str, Any]
    state: TaskState
    attempts: int
    max_attempts: int
    run_after: datetime
    locked_by: str | None
    heartbeat_at: datetime | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


class RetryOut(BaseModel):
    task_id: int


@router.get("/tasks", response_model=list[TaskOut], summary="List tasks (e.g. dead letters)")
def list_tasks(
    ctx: Ctx,
    _: Viewer,
    state: Annotated[list[TaskState] | None, Query(description="Filter by state")] = None,
    kind: Annotated[list[str] | None, Query(description="Filter by kind")] = None,
    after: Annotated[int | None, Query(description="Page after this task id")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[TaskOut]:
    found = tasks.list_tasks(
        ctx, states=tuple(state or ()), kinds=tuple(kind or ()), after_id=after, limit=limit
    )
    return [TaskOut.model_validate(t) for t in found]


@router.post(
    "/tasks/{task_id}/retry",
    response_model=RetryOut,
    summary="Queue a dead task again with a fresh attempt budget",
)
def retry_task(ctx: Ctx, principal: Operator, task_id: int) -> RetryOut:
    return RetryOut(task_id=tasks.retry_dead_task(ctx, task_id, principal=principal))
