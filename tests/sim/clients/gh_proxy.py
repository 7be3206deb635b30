"""A forward HTTP proxy that hands gh's requests for ``github.localhost`` to a simulator.

gh treats the host ``github.localhost`` as a GitHub.com-like instance over plain HTTP
(``http://api.github.localhost/`` for REST and GraphQL, ``http://github.localhost/`` for
git), and Go's HTTP client sends such requests to ``HTTP_PROXY`` in absolute form. This
proxy maps both hosts onto the simulator's GitHub.com-style paths, so gh runs unmodified
without touching /etc/hosts or port 80; the simulator's own address in a redirect
(``Location``) or a next page (``Link``) is rewritten to the host the request came for."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import httpx

_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "content-length"}
_HOSTS = {"api.github.localhost", "github.localhost"}


@dataclass(frozen=True)
class Exchange:
    method: str
    path: str
    body: bytes
    status: int
    answer: bytes


class GhProxy:
    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.seen: list[tuple[str, str, bytes]] = []  # (method, path, body) in order
        self.answers: list[Exchange] = []  # every exchange with its answer, in order
        proxy = self
        client = httpx.Client(base_url=self.target, timeout=60, follow_redirects=False)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _forward(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                if url.hostname not in _HOSTS:
                    self.send_error(502, "only github.localhost is proxied")
                    return
                path = url.path + (f"?{url.query}" if url.query else "")
                proxy.seen.append((self.command, path, body))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                headers.pop("Host", None)
                answer = client.request(self.command, path, content=body, headers=headers)
                proxy.answers.append(
                    Exchange(self.command, path, body, answer.status_code, answer.content)
                )
                self.send_response(answer.status_code)
                for name, value in answer.headers.multi_items():
                    sent = value
                    if name.lower() in ("location", "link"):
                        # Redirects and next pages stay on the host gh asked, so gh keeps
                        # its credentials, as with GitHub's own same-host URLs.
                        sent = value.replace(proxy.target + "/", f"http://{url.hostname}/")
                    if name.lower() not in _HOP and name.lower() != "content-encoding":
                        self.send_header(name, sent)
                self.send_header("content-length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._client = client
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def graphql_problems(self) -> list[str]:
        """GraphQL answers that refused the document or touched an unimplemented field."""
        problems = []
        for exchange in self.answers:
            if exchange.path != "/graphql":
                continue
            answer = json.loads(exchange.answer)
            query = json.loads(exchange.body)["query"]
            if "data" not in answer:  # parse and validation errors come without data
                problems.append(f"refused: {answer['errors']} for {query}")
            for error in answer.get("errors") or []:
                if error.get("type") == "SHOAL_NOT_IMPLEMENTED":
                    problems.append(f"{error['message']} in {query}")
        return problems

    def __enter__(self) -> GhProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()
