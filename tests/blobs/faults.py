"""An HTTP proxy in front of a real S3 server that fails the requests a test picks.

SigV4 signs the Host header, so the proxy forwards it unchanged: the server then checks the
signature against the host the client signed for (the proxy's) and accepts it.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

__all__ = ["Request", "s3_fault_proxy"]

_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection"}
_FAILURE = (
    b"<?xml version='1.0'?><Error><Code>InternalError</Code><Message>injected</Message></Error>"
)


class Request:
    def __init__(self, method: str, path: str) -> None:
        self.method = method
        self.path = path


@contextmanager
def s3_fault_proxy(
    upstream_url: str | None, fail: Callable[[Request], bool]
) -> Iterator[tuple[str, list[Request]]]:
    """Yield (proxy URL, requests seen). Requests `fail` picks get a 500 InternalError;
    the others go to `upstream_url` (None: every request fails)."""
    seen: list[Request] = []
    upstream = urlsplit(upstream_url) if upstream_url else None

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive and 100-continue, as boto3 expects

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request(self.command, self.path)
            seen.append(request)
            if upstream is None or fail(request):
                self.send_response(500)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(_FAILURE)))
                self.end_headers()
                self.wfile.write(_FAILURE)
                return
            conn = http.client.HTTPConnection(upstream.hostname or "", upstream.port, timeout=30)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            finally:
                conn.close()
            self.send_response(resp.status)
            for name, value in resp.getheaders():
                if name.lower() not in _HOP_HEADERS | {"content-length"}:
                    self.send_header(name, value)
            length_header = resp.getheader("Content-Length")
            if self.command == "HEAD":
                self.send_header("Content-Length", length_header or "0")
            else:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep pytest output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
