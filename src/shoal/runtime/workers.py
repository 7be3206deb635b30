"""Running workers: the handler registry for every task kind, in a thread or as the process."""

from __future__ import annotations

import threading

from shoal.services.context import AppContext
from shoal.worker import HandlerRegistry, run_worker

__all__ = ["build_registry", "run_worker_process", "start_worker_thread"]


def build_registry(ctx: AppContext) -> HandlerRegistry:
    """Every task kind Shoal knows, with its handler. Capabilities register theirs here."""
    _ = ctx
    return HandlerRegistry()


def run_worker_process(ctx: AppContext) -> None:
    """Run a worker in the main thread until SIGTERM/SIGINT."""
    run_worker(ctx.settings, ctx.db, build_registry(ctx), clock=ctx.clock)


def start_worker_thread(ctx: AppContext, stop: threading.Event) -> threading.Thread:
    """A worker beside the API server (`shoal up`); it stops when `stop` is set."""
    thread = threading.Thread(
        target=run_worker,
        args=(ctx.settings, ctx.db, build_registry(ctx)),
        kwargs={"install_signal_handlers": False, "stop_event": stop, "clock": ctx.clock},
        name="shoal-worker",
        daemon=True,
    )
    thread.start()
    return thread
