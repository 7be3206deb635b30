"""Attack: an API client sends huge request bodies, with and without a token. The server
answers 401 to a request without a valid token before reading its body, refuses a declared
`Content-Length` over the limit at once (413), and cuts a streamed (chunked) body the moment
it passes the limit (413), each with Shoal's JSON error body."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from shoal.domain.auth import Role
from tests.servers import RunningApi, api_settings, running_api

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bump-checkout-v4.yaml"
LIMIT = 2048  # small, so that the tests send little
SPEC_LIMIT = 64 * 1024


@pytest.fixture
def api(db_url: str, redis_url: str) -> Iterator[RunningApi]:
    settings = api_settings(
        db_url, redis_url, api_max_body_bytes=LIMIT, api_max_spec_body_bytes=SPEC_LIMIT
    )
    with structlog.testing.capture_logs(), running_api(settings) as running:
        yield running


def _raw(api: RunningApi, head: str, body: bytes = b"", *, chunks: int = 0) -> tuple[int, dict]:
    """Send a request by hand (headers, then maybe part of a body) and read the answer
    without sending the rest: a server that waits for the whole body never answers."""
    host, port = api.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        try:
            for _ in range(chunks):
                sock.sendall(b"%x\r\n%s\r\n" % (4096, b"x" * 4096))
        except OSError:
            pass  # the server answered and closed: what it said is read below
        answer = b""
        while b"\r\n\r\n" not in answer or not _complete(answer):
            data = sock.recv(65536)  # raises TimeoutError when the server waits for more
            if not data:
                break
            answer += data
    head_part, _, payload = answer.partition(b"\r\n\r\n")
    status = int(head_part.split()[1])
    return status, json.loads(payload)


def _complete(answer: bytes) -> bool:
    head, _, payload = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(payload) >= int(line.split(b":")[1])
    return False


def _request(path: str, *, token: str | None, length: int | None, chunked: bool = False) -> str:
    lines = [f"POST /api/v1{path} HTTP/1.1", "Host: shoal", "Content-Type: application/json"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    return "\n".join(lines) + "\n"


def test_an_unauthenticated_300_mib_post_is_refused_before_its_body_is_read(
    api: RunningApi,
) -> None:
    # Only the headers are sent: the 401 comes without the server waiting for 300 MiB.
    status, body = _raw(api, _request("/campaigns/apply", token=None, length=300 << 20))
    assert status == 401
    assert body["error"]["code"] == "unauthenticated"


def test_a_bad_token_is_refused_before_the_body_is_read(api: RunningApi) -> None:
    head = _request("/campaigns/x/publish", token="shoal_not-a-real-token", length=LIMIT - 10)
    status, body = _raw(api, head)
    assert status == 401
    assert body["error"]["code"] == "unauthenticated"
    assert "invalid API token" in body["error"]["message"]


def test_a_declared_length_over_the_limit_is_413_at_once(api: RunningApi) -> None:
    head = _request("/campaigns/x/publish", token=api.tokens[Role.OPERATOR], length=300 << 20)
    status, body = _raw(api, head)
    assert status == 413
    assert body["error"]["code"] == "payload_too_large"
    assert "larger than 2 KiB" in body["error"]["message"]
    assert body["error"]["details"] == {"limit": LIMIT}


def test_a_chunked_body_is_cut_when_it_passes_the_limit(api: RunningApi) -> None:
    # No Content-Length: the server counts what streams in and answers after the limit,
    # while the client would go on sending for ever.
    head = _request(
        "/campaigns/x/publish", token=api.tokens[Role.OPERATOR], length=None, chunked=True
    )
    status, body = _raw(api, head, chunks=64)
    assert status == 413
    assert body["error"]["code"] == "payload_too_large"


def test_spec_routes_take_a_larger_body_and_others_do_not(api: RunningApi) -> None:
    spec = EXAMPLE.read_text()
    padded = spec + "\n#" + "x" * (8 * 1024) + "\n"  # a comment: still a valid spec
    assert LIMIT < len(padded) < SPEC_LIMIT
    with api.client(Role.OPERATOR) as http:
        applied = http.post("/campaigns/apply", json={"spec": padded})
        validated = http.post("/specs/validate", json={"spec": padded})
        published = http.post(
            "/campaigns/bump-checkout-v4/publish", json={"repos": ["acme/x"] * 400}
        )
        too_big_spec = http.post("/specs/validate", json={"spec": "#" + "x" * SPEC_LIMIT})
    assert applied.status_code == 200, applied.text
    assert validated.status_code == 200, validated.text
    assert published.status_code == 413, published.text
    assert published.json()["error"]["code"] == "payload_too_large"
    assert too_big_spec.status_code == 413


def test_a_request_within_the_limit_is_authenticated_once_and_served(api: RunningApi) -> None:
    with api.client(Role.VIEWER) as http:
        refused = http.post("/campaigns/apply", json={"spec": EXAMPLE.read_text()})
        listed = http.get("/campaigns")
    # The viewer's token is valid: the role check of the route answers, not the guard.
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert listed.status_code == 200
