"""The worker: claims tasks from the PostgreSQL queue and runs their handlers.

It owns the claim loop and its handler threads, the batching of outcomes into the loop's
transactions, the leases of running tasks (heartbeats), wake-ups on new tasks (LISTEN/NOTIFY),
the leader's periodic duties (the stalled-task reset), graceful shutdown, and the worker's
metrics. Handlers are registered by task kind; they are level-triggered and return an
`Outcome` (`done`, `requeue_after`, `retry`, `dead`).
"""

from shoal.worker.entrypoint import run_worker
from shoal.worker.leader import PeriodicDuty
from shoal.worker.loop import Worker
from shoal.worker.metrics import PrometheusMetrics, WorkerMetrics
from shoal.worker.registry import Handler, HandlerContext, HandlerRegistry

__all__ = [
    "Handler",
    "HandlerContext",
    "HandlerRegistry",
    "PeriodicDuty",
    "PrometheusMetrics",
    "Worker",
    "WorkerMetrics",
    "run_worker",
]
