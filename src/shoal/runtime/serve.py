"""Running the API server (uvicorn) in this process."""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from collections.abc import Iterator

import uvicorn

from shoal.api import create_app
from shoal.services.context import AppContext

__all__ = ["ApiServer", "api_server"]


class ApiServer(uvicorn.Server):
    """uvicorn's server, minus re-raising the stop signal after shutdown.

    uvicorn re-raises a captured SIGTERM/SIGINT once it has stopped, which kills the process
    before `shoal up` can stop its worker (finish or release tasks) and the embedded servers.
    Here a signal only asks the server to stop; the caller decides what happens next.
    """

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Live UI streams never finish by themselves: end them first, or uvicorn would wait
        # for them (until their lifetime) before it stops.
        hub = getattr(getattr(self.config.app, "state", None), "live_hub", None)
        if hub is not None:
            hub.close()
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        watched = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in watched}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def api_server(ctx: AppContext) -> ApiServer:
    config = uvicorn.Config(
        create_app(ctx),
        host=ctx.settings.api_host,
        port=ctx.settings.api_port,
        log_config=None,  # structlog owns logging
        access_log=False,  # the request middleware logs each request once
        server_header=False,
        proxy_headers=False,
        # Whatever still runs this long after a stop is asked is cancelled (below the 30 s a
        # Kubernetes pod gets by default before it is killed).
        timeout_graceful_shutdown=20,
    )
    return ApiServer(config)
