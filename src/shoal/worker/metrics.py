"""The worker's Prometheus metrics, behind a small port so a benchmark can keep raw samples."""

from __future__ import annotations

from typing import Protocol

from prometheus_client import Counter, Histogram

__all__ = [
    "CLAIM_SECONDS",
    "STALLED_RESETS",
    "TASKS_COMPLETED",
    "TASK_SECONDS",
    "PrometheusMetrics",
    "WorkerMetrics",
]

# `kind` is a fixed vocabulary chosen by code (not by users), so the labels stay low-cardinality.
TASKS_COMPLETED = Counter(
    "shoal_tasks_completed",
    "Task attempts finished, by kind and outcome (done, requeue_after, retry, dead, "
    "lease_lost, unrecorded).",
    ["kind", "outcome"],
)
TASK_SECONDS = Histogram(
    "shoal_task_duration_seconds",
    "Time from claim to recorded outcome, by kind.",
    ["kind"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900),
)
CLAIM_SECONDS = Histogram(
    "shoal_task_claim_seconds",
    "Duration of one claim transaction.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
STALLED_RESETS = Counter(
    "shoal_tasks_stalled_reset",
    "Running tasks taken back from a worker that stopped heartbeating.",
)


class WorkerMetrics(Protocol):
    def claimed(self, seconds: float, count: int) -> None: ...

    def finished(self, kind: str, outcome: str, seconds: float) -> None: ...


class PrometheusMetrics:
    def claimed(self, seconds: float, count: int) -> None:
        CLAIM_SECONDS.observe(seconds)

    def finished(self, kind: str, outcome: str, seconds: float) -> None:
        TASKS_COMPLETED.labels(kind=kind, outcome=outcome).inc()
        TASK_SECONDS.labels(kind=kind).observe(seconds)
