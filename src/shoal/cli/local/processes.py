"""`shoal up`, `shoal api`, `shoal worker`: the long-running processes."""

from __future__ import annotations

import errno
import socket
import threading
from contextlib import ExitStack
from typing import TYPE_CHECKING

from shoal.cli.local.settings import load_settings
from shoal.cli.output import console, fail
from shoal.observability.tracing import configure_tracing

if TYPE_CHECKING:
    from shoal.config import Settings
    from shoal.runtime.servers import Servers

__all__ = ["api", "up", "worker"]


def up() -> None:
    """Run the API and a worker in this process (single node).

    With no SHOAL_DATABASE_URL / SHOAL_REDIS_URL, embedded PostgreSQL and Redis are started
    under the data dir; the schema is migrated on start.
    """
    import structlog

    from shoal.runtime.instances import registered, stop_leftovers
    from shoal.runtime.servers import start_servers

    settings = load_settings()
    configure_tracing("shoal")
    log = structlog.get_logger("shoal.cli")
    # Bind before starting anything: a busy port fails here, not after the database started
    # and "Shoal is up" was printed.
    listener = _listen(settings)
    with registered(settings.data_dir, settings.api_url), ExitStack() as stack:
        stopped = stop_leftovers(settings)
        if stopped:
            where = str(settings.data_dir)
            log.warning("stopped_leftover_servers", servers=stopped, data_dir=where)
        stack.callback(log.info, "shoal_stopped")  # the last word, once everything stopped
        # The embedded servers start in the background while the API and the worker load.
        servers = start_servers(settings, stack)
        _serve(settings, listener, servers)


def _serve(settings: Settings, listener: socket.socket, servers: Servers) -> None:
    from shoal.runtime.context import app_context
    from shoal.runtime.serve import api_server
    from shoal.runtime.workers import start_worker_thread

    with app_context(settings, migrate=True, create_audit_key=True, servers=servers) as ctx:
        stop = threading.Event()
        worker_thread = start_worker_thread(ctx, stop)
        server = api_server(ctx)
        where = "external PostgreSQL" if settings.database_url else f"data in {settings.data_dir}"
        console.print(
            f"Shoal is up: API {settings.api_url}/api/v1 (docs at /api/v1/docs), {where}. "
            "Ctrl-C stops it."
        )
        try:
            # Returns on SIGINT/SIGTERM (uvicorn installs the handlers).
            server.run(sockets=[listener])
        finally:
            stop.set()
            worker_thread.join(timeout=settings.task_stall_timeout_s)


def api() -> None:
    """Run only the API server."""
    from shoal.runtime.context import app_context
    from shoal.runtime.serve import api_server

    settings = load_settings()
    configure_tracing("shoal-api")
    listener = _listen(settings)
    with app_context(settings) as ctx:
        api_server(ctx).run(sockets=[listener])


def _listen(settings: Settings) -> socket.socket:
    """The API's listening socket, or a clear error when the address is taken."""
    family = socket.AF_INET6 if ":" in settings.api_host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.api_host, settings.api_port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            fail(
                f"cannot listen on {settings.api_host}:{settings.api_port}: the port is already "
                "in use (another `shoal up`?)",
                hint="stop the other process, or pick another port with SHOAL_API_PORT",
            )
        fail(f"cannot listen on {settings.api_host}:{settings.api_port}: {exc.strerror}")
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


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
    configure_tracing("shoal-worker")
    if settings.worker_metrics_port is not None:
        # Workers serve no HTTP otherwise; Prometheus scrapes this port (the API's /metrics
        # covers a worker only when both run in one process, as with `shoal up`).
        from prometheus_client import start_http_server

        start_http_server(settings.worker_metrics_port, addr=settings.worker_metrics_host)
    with app_context(settings) as ctx:
        run_worker_process(ctx, stop)
