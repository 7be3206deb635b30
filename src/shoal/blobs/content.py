"""Content addressing: an object's key is the sha256 of its bytes, so a write is idempotent.

`put_content_addressed` stores data once per namespace: the same patch produced by a hundred
executions (or a retried task) is one object, and a second put costs a HEAD, not an upload.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from shoal.blobs.keys import validate_key
from shoal.domain.errors import InvalidInputError

__all__ = ["BlobRef", "ContentStore", "content_key", "put_content_addressed"]

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class BlobRef:
    """Where a content-addressed object is, and what it is."""

    key: str
    sha256: str
    size: int


class ContentStore(Protocol):
    """What content addressing needs of an `ObjectStore` (every ObjectStore is one)."""

    def size(self, key: str) -> int | None: ...

    def put_bytes(self, key: str, data: bytes, *, content_type: str | None = None) -> None: ...

    def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> None: ...


def content_key(namespace: str, sha256: str) -> str:
    """`<namespace>/sha256/<first two hex digits>/<hex>`: the prefix spreads a namespace
    over 256 directories (filesystem) or key prefixes (S3 request-rate partitions)."""
    if not _SHA256.fullmatch(sha256):
        raise InvalidInputError(f"not a lowercase hex sha256: {sha256[:80]!r}")
    return validate_key(f"{validate_key(namespace)}/sha256/{sha256[:2]}/{sha256}")


def put_content_addressed(
    store: ContentStore,
    namespace: str,
    data: bytes | Path,
    *,
    content_type: str | None = None,
) -> BlobRef:
    """Store `data` under its content key unless an object of that size is already there.

    A `Path` is hashed by streaming and must not change until this returns (the upload reads
    it again).
    """
    if isinstance(data, Path):
        with data.open("rb") as src:
            sha256 = hashlib.file_digest(src, "sha256").hexdigest()
        size = data.stat().st_size
    else:
        sha256 = hashlib.sha256(data).hexdigest()
        size = len(data)
    ref = BlobRef(key=content_key(namespace, sha256), sha256=sha256, size=size)
    # Same key means same hash; the size check only catches an object truncated by some
    # other writer, which we then replace with the whole one.
    if store.size(ref.key) == size:
        return ref
    if isinstance(data, Path):
        store.put_file(ref.key, data, content_type=content_type)
    else:
        store.put_bytes(ref.key, data, content_type=content_type)
    return ref
