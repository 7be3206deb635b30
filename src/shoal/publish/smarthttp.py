"""git's smart HTTP, the little of it a publish speaks without `git` (`uploadpack` for the
fetch, `receivepack` for the push): pkt-lines and one POST whose answer is read as it comes.

`git fetch` and `git push` both start with a request for the ref advertisement (`GET
info/refs`), then send their one real request. A publish knows what it wants already (the
base commit; the branch's old value), and git's smart HTTP is stateless: the real request
alone does the work, one request instead of two. No git client sends it without asking for
the advertisement first (`git`, dulwich), hence this module (gitprotocol-common(5),
gitprotocol-http(5), gitprotocol-v2(5), gitprotocol-pack(5)).
"""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
from pydantic import SecretStr

__all__ = [
    "DELIM",
    "DELIM_PKT",
    "FLUSH_PKT",
    "Answer",
    "PktReader",
    "ProtocolError",
    "pkt",
    "post",
]

FLUSH_PKT = b"0000"
DELIM_PKT = b"0001"
# GitHub serves git's smart HTTP to clients that say they speak git (dulwich does the same).
USER_AGENT = "git/shoal"
_MAX_ERROR_BYTES = 64 << 10


class ProtocolError(Exception):
    """The answer is not what git's protocol says it should be."""


class _Delim:
    """The delimiter packet (`0001`) between the sections of a protocol v2 answer."""


DELIM = _Delim()


def pkt(data: bytes) -> bytes:
    return b"%04x" % (len(data) + 4) + data


class PktReader:
    """pkt-lines from a stream of chunks, one at a time; past `deadline` (monotonic) it
    raises TimeoutError, however slowly the chunks come."""

    def __init__(self, chunks: Iterator[bytes], deadline: float) -> None:
        self._chunks = chunks
        self._deadline = deadline
        self._buffer = bytearray()

    def _take(self, size: int) -> bytes:
        while len(self._buffer) < size:
            if time.monotonic() > self._deadline:
                raise TimeoutError("the answer took too long")
            chunk = next(self._chunks, None)
            if chunk is None:
                raise ProtocolError("the answer ended in the middle of a pkt-line")
            self._buffer += chunk
        taken = bytes(self._buffer[:size])
        del self._buffer[:size]
        return taken

    def read(self) -> bytes | _Delim | None:
        """The next packet's payload, DELIM, or None for a flush packet."""
        head = self._take(4)
        try:
            size = int(head, 16)
        except ValueError:
            raise ProtocolError(f"not a pkt-line: {head!r}") from None
        if size == 0:
            return None
        if size == 1:
            return DELIM
        if size < 4:
            raise ProtocolError(f"a pkt-line of {size} bytes")
        return self._take(size - 4)

    def at_end(self) -> bool:
        if self._buffer:
            return False
        for chunk in self._chunks:
            if chunk:
                self._buffer += chunk
                return False
        return True


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    request_id: str | None
    reader: PktReader  # the body as pkt-lines (a 200 answer)
    text: str  # the start of the body of any other answer, for its error message


@functools.cache
def _tls() -> ssl.SSLContext:
    """The TLS context of every exchange, built once: building one reads the CA bundle, tens
    of milliseconds of CPU that a context per request spent twice per publish. A context is
    safe to share between threads once set up. trust_env off, as for the client below."""
    return httpx.create_ssl_context(trust_env=False)


@contextmanager
def post(
    url: str,
    authorization: SecretStr,
    body: bytes,
    *,
    service: str,
    timeout_s: float,
    protocol: str | None = None,
) -> Iterator[Answer]:
    """POST `body` to `url` (`.../owner/repo.git/git-<service>`) and hand over the answer,
    read as it comes. Raises httpx's errors for a failed exchange."""
    headers = {
        "content-type": f"application/x-git-{service}-request",
        "accept": f"application/x-git-{service}-result",
        "authorization": authorization.get_secret_value(),
        "user-agent": USER_AGENT,
        **({"git-protocol": protocol} if protocol else {}),
    }
    deadline = time.monotonic() + timeout_s
    # trust_env off: like Shoal's git, this ignores the machine's proxies and .netrc.
    with (
        httpx.Client(
            timeout=timeout_s, trust_env=False, follow_redirects=False, verify=_tls()
        ) as client,
        client.stream("POST", url, content=body, headers=headers) as response,
    ):
        chunks = response.iter_bytes()
        text = ""
        if response.status_code != 200:
            said = bytearray()
            for chunk in chunks:
                said += chunk
                if len(said) > _MAX_ERROR_BYTES or time.monotonic() > deadline:
                    break
            text = bytes(said[:_MAX_ERROR_BYTES]).decode("utf-8", "replace")
        yield Answer(
            response.status_code,
            response.headers.get("x-github-request-id"),
            PktReader(chunks, deadline),
            text,
        )
