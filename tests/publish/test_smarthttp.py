"""smarthttp.post over real HTTP: the answer read as it comes, one TLS context for all."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import SecretStr

from shoal.publish import smarthttp
from shoal.publish.smarthttp import pkt, post


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        answer = pkt(b"got " + str(len(body)).encode() + b"\n") + smarthttp.FLUSH_PKT
        self.send_response(200)
        self.send_header("content-type", "application/x-git-upload-pack-result")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/o/r.git/git-upload-pack"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_exchanges_share_one_tls_context(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Building a context reads the CA bundle: tens of ms of CPU, twice per publish if each
    # exchange built its own.
    built: list[ssl.SSLContext] = []
    real = ssl.create_default_context

    def counting(*args: object, **kwargs: object) -> ssl.SSLContext:
        built.append(real(*args, **kwargs))  # type: ignore[arg-type]
        return built[-1]

    monkeypatch.setattr(ssl, "create_default_context", counting)
    smarthttp._tls.cache_clear()
    auth = SecretStr("Basic eDp5")
    for n in (3, 5, 8):
        with post(server, auth, b"x" * n, service="upload-pack", timeout_s=10) as answer:
            assert answer.status == 200
            assert answer.reader.read() == f"got {n}\n".encode()
    assert len(built) == 1
