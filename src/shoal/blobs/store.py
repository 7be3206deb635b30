"""The object store port: the one interface patches, logs and workspace caches are kept behind.

Two implementations share one contract (tests/blobs runs the same tests on both):
`FilesystemObjectStore` (a directory; single node) and `S3ObjectStore` (any S3 endpoint).

The contract:
- Writes are atomic and idempotent: a reader sees the old object or the whole new one, never
  a part; a failed write leaves nothing under its key; writing the same content again is a
  no-op in effect. Two writers of different content to one key: the last rename/PUT wins.
- Reads of a missing key raise `BlobNotFoundError`; `size`/`exists` answer instead of raising;
  `delete` of a missing key is not an error.
- `iter_chunks` opens the object before it returns, so a missing key fails before an HTTP
  response has started; the returned `BlobStream` knows the size (Content-Length) and closes
  itself when exhausted or failed. A stream that will not be read to the end must be closed
  (`with store.iter_chunks(key) as stream:`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Protocol

__all__ = ["DEFAULT_CHUNK_SIZE", "BlobStream", "ObjectStore"]

DEFAULT_CHUNK_SIZE = 1 << 20


class BlobStream(Iterator[bytes]):
    """The chunks of one opened object. Iterate it, or close it (it is a context manager)."""

    def __init__(self, chunks: Iterator[bytes], *, size: int, close: Callable[[], None]) -> None:
        self.size = size
        self._chunks = chunks
        self._close: Callable[[], None] | None = close

    def __iter__(self) -> BlobStream:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._chunks)
        except BaseException:
            # StopIteration included: a fully read or failed stream lets go of its file or
            # connection at once instead of whenever the garbage collector gets to it.
            self.close()
            raise

    def close(self) -> None:
        """Release the file or connection; iterating a closed stream yields nothing more."""
        self._chunks = iter(())
        close, self._close = self._close, None
        if close is not None:
            close()

    def __enter__(self) -> BlobStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


class ObjectStore(Protocol):
    """Keys are validated by `shoal.blobs.keys.validate_key` in every method.

    `content_type` is stored where the backend keeps metadata (S3; the default there is
    application/octet-stream); the filesystem store ignores it.
    """

    def put_bytes(self, key: str, data: bytes, *, content_type: str | None = None) -> None: ...

    def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> None: ...

    def get_bytes(self, key: str, *, max_bytes: int | None = None) -> bytes:
        """The whole object; `BlobTooLargeError` if it is larger than `max_bytes`."""
        ...

    def download(self, key: str, dest: Path) -> None:
        """Write the object to `dest` atomically (parent directories are created)."""
        ...

    def iter_chunks(self, key: str, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> BlobStream: ...

    def read_tail(self, key: str, n: int) -> bytes:
        """The last `n` bytes (all of them if the object is shorter)."""
        ...

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int | None:
        """The object's size in bytes, or None if there is no such object."""
        ...

    def delete(self, key: str) -> None: ...

    def keys_modified_before(self, prefix: str, before: datetime, *, limit: int) -> list[str]:
        """Up to `limit` keys under `prefix` (a key prefix ending in '/') last written
        before `before`: what retention deletes when no row records the object's age."""
        ...

    def describe(self) -> str:
        """Where the objects live, for messages and logs (never a credential)."""
        ...
