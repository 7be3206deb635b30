"""Dead letters are visible and re-queueable through the API; queue depth is in /metrics."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import httpx

from shoal.domain.auth import Role
from shoal.domain.backoff import Backoff
from shoal.domain.tasks import NewTask, Outcome, TaskState
from shoal.store import tasks as task_store
from tests.servers import RunningApi


def _dead_task(api: RunningApi) -> int:
    now = datetime.now(UTC)
    with api.ctx.db.transaction() as conn:
        task_store.enqueue(conn, NewTask("probe", "probe:1", {"n": 1}), now=now, max_attempts=3)
        task_store.enqueue(conn, NewTask("probe", "probe:2"), now=now, max_attempts=3)
        [claimed] = task_store.claim(conn, worker_id="w1", now=now)
        state = task_store.complete(
            conn,
            claimed,
            Outcome.dead("boom: bad input"),
            now=now,
            backoff=Backoff(1.0, 10.0, random.Random(0)),
        )
    assert state is TaskState.DEAD
    return claimed.id


def test_dead_tasks_listed_retried_and_audited(api: RunningApi) -> None:
    dead_id = _dead_task(api)
    with api.client(Role.VIEWER) as viewer:
        dead = viewer.get("/tasks", params={"state": "dead"}).json()
        refused = viewer.post(f"/tasks/{dead_id}/retry")
    with api.client(Role.OPERATOR) as operator:
        retried = operator.post(f"/tasks/{dead_id}/retry")
        again = operator.post(f"/tasks/{dead_id}/retry")
        queued = operator.get("/tasks", params={"state": "queued", "kind": "probe"}).json()
        events = operator.get("/audit", params={"action": "task.retry"}).json()
    assert [(t["id"], t["last_error"]) for t in dead] == [(dead_id, "boom: bad input")]
    assert refused.status_code == 403
    assert retried.status_code == 200 and retried.json() == {"task_id": dead_id}
    assert again.status_code == 404  # no longer dead
    assert again.json()["error"]["code"] == "not_found"
    assert {t["dedupe_key"] for t in queued} == {"probe:1", "probe:2"}
    assert [e["target"] for e in events] == [f"task:{dead_id}"]


def test_queue_depth_in_metrics(api: RunningApi) -> None:
    _dead_task(api)
    with httpx.Client(base_url=api.url) as client:
        metrics = client.get("/metrics").text
    assert 'shoal_tasks{kind="probe",state="dead"} 1.0' in metrics
    assert 'shoal_tasks{kind="probe",state="queued"} 1.0' in metrics
    assert 'shoal_task_queue_age_seconds{kind="probe"}' in metrics
