"""Running a worker from a command: the one place that installs signal handlers."""

from __future__ import annotations

import random
import signal
import threading
from collections.abc import Callable, Sequence
from types import FrameType

import structlog

from shoal.config import Settings
from shoal.domain.clock import Clock, SystemClock
from shoal.store import Database
from shoal.worker.leader import PeriodicDuty
from shoal.worker.loop import DEFAULT_GRACE_S, Worker
from shoal.worker.registry import HandlerRegistry

__all__ = ["run_worker", "stop_on_signals"]

log = structlog.get_logger("shoal.worker")


def run_worker(
    settings: Settings,
    db: Database,
    registry: HandlerRegistry,
    *,
    install_signal_handlers: bool = True,
    stop_event: threading.Event | None = None,
    clock: Clock | None = None,
    worker_id: str | None = None,
    grace_s: float = DEFAULT_GRACE_S,
    duties: Sequence[PeriodicDuty] = (),
) -> None:
    """Run a worker until SIGTERM/SIGINT (or `stop_event`); blocks until it has stopped.

    The first signal stops claiming and lets running tasks finish within `grace_s`, then
    releases the rest; a second one stops at once (tasks are then taken back by the
    stalled-task reset). Signal handlers can only be installed from the main thread: a worker
    run in another thread passes `install_signal_handlers=False` and a `stop_event`.
    """
    stop = stop_event or threading.Event()
    restore = stop_on_signals(stop) if install_signal_handlers else None
    worker = Worker(
        db,
        registry,
        settings,
        clock or SystemClock(),
        worker_id=worker_id,
        concurrency=settings.worker_concurrency,
        rng=random.Random(),  # noqa: S311 (retry jitter, not a secret)
        duties=duties,
        grace_s=grace_s,
    )
    try:
        worker.run(stop)
    finally:
        if restore is not None:
            restore()


def stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """SIGTERM and SIGINT set `stop` (a second one interrupts at once); returns a function
    that puts the previous handlers back. Main thread only."""

    def on_signal(signum: int, _: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        log.info("worker_stop_requested", signal=signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, handler in previous.items():
            if handler is not None:
                signal.signal(sig, handler)

    return restore
