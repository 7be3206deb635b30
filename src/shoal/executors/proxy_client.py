"""The runner's side of the artifact proxy: fetch the workspace, upload the results, over
HTTP with the execution token alone (see services.artifact_proxy for the API's side).

Nothing here reads Shoal's settings or any credential but the token it is given.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx

from shoal.domain.errors import InvalidInputError, ShoalError, UnavailableError
from shoal.execution.results import ExecutionResult

__all__ = ["ProxyClient", "ProxyRefusedError"]

RESULT_NAME = "result.json"
T = TypeVar("T")
_ATTEMPTS = 4
_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class ProxyRefusedError(ShoalError):
    """The API refused the request (a 4xx): retrying the same request does not help."""

    code = "artifact_proxy_refused"


class ProxyClient:
    def __init__(self, url: str, token: str, *, transport: httpx.BaseTransport | None = None):
        """`url`: the execution's base on the API, `.../api/v1/executions/{id}`."""
        if not url.startswith(("http://", "https://")):
            raise InvalidInputError(f"the artifact URL must be http(s), got {url[:80]!r}")
        self._url = url.rstrip("/")
        self._client = httpx.Client(
            headers={"Authorization": f"Bearer {token}"},
            timeout=_TIMEOUT,
            transport=transport,
            # The API is the one server this talks to: no proxies from the environment.
            trust_env=False,
        )

    def fetch_workspace(self, dest: Path, max_bytes: int) -> bool:
        """Write the workspace tarball to `dest`; False (and no file) for an empty repository."""

        def attempt() -> bool:
            with self._client.stream("GET", f"{self._url}/workspace") as response:
                _raise_for(response)
                if response.status_code == 204:
                    return False
                size = 0
                with dest.open("wb") as file:
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > max_bytes:
                            raise InvalidInputError(
                                f"the workspace is larger than {max_bytes} bytes (--max-bytes)"
                            )
                        file.write(chunk)
                return True

        try:
            return _retrying(attempt)
        except BaseException:
            dest.unlink(missing_ok=True)
            raise

    def upload_results(self, results: Path) -> None:
        """Upload log, patch (when the result has one) and result.json, in that order."""
        text = (results / RESULT_NAME).read_bytes()
        result = ExecutionResult.from_json(text, results)
        self._put("log", result.log_path.read_bytes())
        if result.patch_path is not None:
            self._put("patch", result.patch_path.read_bytes())
        self._put("result", text)

    def _put(self, name: str, body: bytes) -> None:
        def attempt() -> None:
            response = self._client.put(f"{self._url}/results/{name}", content=body)
            _raise_for(response)

        _retrying(attempt)

    def close(self) -> None:
        self._client.close()


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    response.read()
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.text[:500]
    said = f"the artifact proxy answered {response.status_code}: {message}"
    if response.status_code >= 500 or response.status_code == 429:
        raise UnavailableError(said)
    raise ProxyRefusedError(said)


def _retrying(call: Callable[[], T]) -> T:
    for attempt in range(_ATTEMPTS):
        try:
            return call()
        except (httpx.TransportError, UnavailableError) as exc:
            if attempt == _ATTEMPTS - 1:
                if isinstance(exc, ShoalError):
                    raise
                raise UnavailableError(f"the artifact proxy could not be reached: {exc}") from exc
            time.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")
