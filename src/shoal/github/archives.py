"""Repository archives: `GET /repos/{owner}/{repo}/tarball/{ref}` answers with a redirect to
a signed download URL (codeload.github.com on GitHub.com, `/_codeload` on the same host for
GHES), which is streamed to a file under a size cap.

The token goes to the API host only: a redirect to another origin is followed without
`Authorization` (the signed URL needs none, and a token must not leave GitHub's API host).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import httpx

from shoal.github.calls import Call, Caller
from shoal.github.endpoints import same_origin
from shoal.github.errors import (
    ArchiveTooLargeError,
    GitHubUnavailableError,
    classify_transport_error,
)

__all__ = ["ARCHIVE_ROUTE", "TARBALL_ROUTE", "download_tarball"]

TARBALL_ROUTE = "/repos/{owner}/{repo}/tarball/{ref}"
ARCHIVE_ROUTE = "archive"  # the metrics label of the download itself
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 1 << 16


def download_tarball(
    caller: Caller, owner: str, repo: str, ref: str, dest: Path, *, max_bytes: int
) -> int:
    """Stream the tarball of `ref` to `dest`; returns the bytes written.

    Raises `ArchiveTooLargeError` past `max_bytes` (nothing is left at `dest`) and the
    classified GitHub errors (`GitHubNotFoundError` for an unknown repository or ref)."""
    call = Call(
        "GET", TARBALL_ROUTE, path={"owner": owner, "repo": repo, "ref": ref}, revalidate=False
    )
    with caller.stream(call) as response:
        if response.status_code == 200:
            return _save(response, dest, max_bytes, where=call.where)
        location = response.headers.get("location")
        if response.status_code not in _REDIRECTS or not location:
            raise GitHubUnavailableError(
                f"{call.where}: unexpected answer {response.status_code} without an archive",
                status=response.status_code,
            )
    target = caller.url(call).join(location)
    download = Call(
        "GET",
        ARCHIVE_ROUTE,
        url=str(target),
        revalidate=False,
        governed=False,
        authenticated=same_origin(target, caller.base),
    )
    with caller.stream(download) as response:
        if response.status_code != 200:
            raise GitHubUnavailableError(
                f"{download.where}: unexpected answer {response.status_code}",
                status=response.status_code,
            )
        return _save(response, dest, max_bytes, where=download.where)


def _save(response: httpx.Response, dest: Path, max_bytes: int, *, where: str) -> int:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(where, max_bytes)
    partial = dest.with_name(dest.name + ".partial")
    written = 0
    try:
        with partial.open("wb") as out:
            for chunk in response.iter_bytes(_CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise _too_large(where, max_bytes)
                out.write(chunk)
        partial.replace(dest)
    except httpx.TransportError as exc:
        raise classify_transport_error(exc, where=where, url=response.url) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return written


def _too_large(where: str, max_bytes: int) -> ArchiveTooLargeError:
    return ArchiveTooLargeError(
        f"{where}: the archive is larger than the limit of {max_bytes} bytes",
        details={"max_bytes": max_bytes},
    )
