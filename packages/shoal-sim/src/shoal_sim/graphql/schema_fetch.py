"""Fetching GitHub's GraphQL schema on first use.

The schema is ``schema.json`` from the ``@octokit/graphql-schema`` npm package (MIT). A
checkout of Shoal installs it with ``scripts/bootstrap.sh``; an installed ``shoal-sim``
downloads the pinned tarball (about 0.6 MB) from the npm registry the first time ``serve``
needs it, checks it against the registry's sha512 integrity, and keeps only
``schema.json`` in the user's cache directory. The download is bounded in size and time,
and the archive is never extracted: one named member is read.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from shoal_sim.graphql.schema import PACKAGE, PACKAGE_VERSION

TARBALL_URL = f"https://registry.npmjs.org/{PACKAGE}/-/graphql-schema-{PACKAGE_VERSION}.tgz"
# `npm view @octokit/graphql-schema@15.26.1 dist.integrity`
INTEGRITY = (
    "sha512-RFDC2MpRBd4AxSRvUeBIVeBU7ojN/SxDfALUd7iVYOSeEK3gZaqR2MGOy"
    "sj4Zh2xj2RY5fQAUT+Oqq7hWTraMA=="
)
MEMBER = "package/schema.json"
MAX_TARBALL_BYTES = 8 * 1024 * 1024
MAX_SCHEMA_BYTES = 32 * 1024 * 1024
TIMEOUT_SECONDS = 60.0


class SchemaFetchError(RuntimeError):
    """The schema could not be downloaded or the download was not the pinned package."""


def _download(url: str, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    size = 0
    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
            if response.status_code != 200:
                raise SchemaFetchError(f"{url} answered HTTP {response.status_code}")
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_TARBALL_BYTES:
                    raise SchemaFetchError(f"{url} is larger than {MAX_TARBALL_BYTES} bytes")
                if time.monotonic() > deadline:
                    raise SchemaFetchError(f"{url} took longer than {timeout:.0f}s")
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise SchemaFetchError(f"cannot download {url}: {exc}") from exc
    return b"".join(chunks)


def _check_integrity(data: bytes, integrity: str) -> None:
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512":
        raise ValueError(f"unsupported integrity algorithm {algorithm!r}")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual != expected:
        raise SchemaFetchError("the download does not match the pinned package's sha512")


def _schema_member(data: bytes) -> bytes:
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            member = archive.getmember(MEMBER)
            if not member.isfile() or member.size > MAX_SCHEMA_BYTES:
                raise SchemaFetchError(f"{MEMBER} in the package is not a plausible file")
            stream = archive.extractfile(member)
            if stream is None:
                raise SchemaFetchError(f"{MEMBER} cannot be read from the package")
            return stream.read(MAX_SCHEMA_BYTES + 1)
    except (tarfile.TarError, KeyError, OSError, EOFError) as exc:
        raise SchemaFetchError(f"the package has no readable {MEMBER}: {exc}") from exc


def fetch_schema(
    dest: Path,
    *,
    url: str = TARBALL_URL,
    integrity: str = INTEGRITY,
    progress: Callable[[str], None] = lambda _: None,
    timeout: float = TIMEOUT_SECONDS,
) -> Path:
    """Download the pinned package from ``url`` and write its ``schema.json`` to ``dest``
    (atomically: a concurrent reader sees the whole file or none)."""
    progress(
        f"fetching GitHub's GraphQL schema ({PACKAGE}@{PACKAGE_VERSION}, about 0.6 MB) "
        f"from {url} into {dest.parent} (once) ..."
    )
    started = time.monotonic()
    data = _download(url, timeout)
    _check_integrity(data, integrity)
    schema = _schema_member(data)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".schema-", suffix=".json")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(schema)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    progress(
        f"GitHub's GraphQL schema is installed at {dest} "
        f"({len(schema) / 1e6:.1f} MB, {time.monotonic() - started:.1f}s)"
    )
    return dest
