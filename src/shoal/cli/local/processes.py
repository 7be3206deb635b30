"""`shoal up`, `shoal api`, `shoal worker`: the long-running processes."""

from __future__ import annotations

import threading

import structlog

from shoal.cli.local.settings import load_settings
from shoal.cli.output import console

__all__ = ["api", "up", "worker"]

log = structlog.get_logger("shoal.cli")


def up() -> None:
    """Run the API and a worker in this process (single node).

    With no SHOAL_DATABASE_URL / SHOAL_REDIS_URL, embedded PostgreSQL and Redis are started
    under the data dir; the schema is migrated on start.
    """
    from shoal.runtime.context import app_context
    from shoal.runtime.serve import api_server
    from shoal.runtime.workers import start_worker_thread

    settings = load_settings()
    with app_context(settings, migrate=True) as ctx:
        stop = threading.Event()
        worker_thread = start_worker_thread(ctx, stop)
        server = api_server(ctx)
        console.print(
            f"Shoal is up: API {settings.api_url}/api/v1 (docs at /api/v1/docs), data in "
            f"{settings.data_dir}. Ctrl-C stops it."
        )
        try:
            server.run()  # returns on SIGINT/SIGTERM (uvicorn installs the handlers)
        finally:
            stop.set()
            worker_thread.join(timeout=settings.task_stall_timeout_s)
            log.info("shoal_stopped")


def api() -> None:
    """Run only the API server."""
    from shoal.runtime.context import app_context
    from shoal.runtime.serve import api_server

    settings = load_settings()
    with app_context(settings) as ctx:
        api_server(ctx).run()


def worker() -> None:
    """Run only a worker (claims tasks until SIGTERM; finishes or releases the current ones)."""
    # A pod may be told to stop while it is still starting: from here on that is a clean
    # stop before the first claim, not a death by signal.
    from shoal.worker.entrypoint import stop_on_signals

    stop = threading.Event()
    stop_on_signals(stop)

    from shoal.runtime.context import app_context
    from shoal.runtime.workers import run_worker_process

    settings = load_settings()
    if settings.worker_metrics_port is not None:
        # Workers serve no HTTP otherwise; Prometheus scrapes this port (the API's /metrics
        # covers a worker only when both run in one process, as with `shoal up`).
        from prometheus_client import start_http_server

        start_http_server(settings.worker_metrics_port, addr=settings.worker_metrics_host)
    with app_context(settings) as ctx:
        run_worker_process(ctx, stop)
