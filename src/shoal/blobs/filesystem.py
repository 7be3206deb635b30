"""`FilesystemObjectStore`: objects as files under one directory (single-node mode).

A key maps to `<root>/<key>`; `validate_key` guarantees that path stays under the root. A
write goes to a temp file in `<root>/.tmp` (same filesystem, so the final rename is atomic),
is fsynced, renamed over the key, and the directory is fsynced: after a crash or a full disk
the key holds the old object or the whole new one, never a part.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from stat import S_ISREG
from typing import BinaryIO

from shoal.blobs.errors import (
    BlobNotFoundError,
    BlobStoreConfigError,
    BlobStoreError,
    BlobStoreUnavailableError,
    BlobTooLargeError,
    InvalidBlobKeyError,
)
from shoal.blobs.keys import validate_key
from shoal.blobs.store import DEFAULT_CHUNK_SIZE, BlobStream
from shoal.domain.errors import InvalidInputError, ShoalError

__all__ = ["FilesystemObjectStore"]

_TMP_DIR = ".tmp"
_COPY_BUFFER = 1 << 20
_FULL = {errno.ENOSPC, errno.EDQUOT}
_TRANSIENT = {errno.EIO, errno.EROFS, errno.EBUSY, errno.ENOMEM, errno.EMFILE, errno.ENFILE}


class FilesystemObjectStore:
    def __init__(self, root: Path) -> None:
        self._root = root.absolute()

    @property
    def root(self) -> Path:
        return self._root

    def describe(self) -> str:
        return f"filesystem object store at {self._root}"

    # --- writes ------------------------------------------------------------------------

    def put_bytes(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        self._write(key, lambda out: out.write(data))

    def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> None:
        with path.open("rb") as src:
            self._write(key, lambda out: shutil.copyfileobj(src, out, _COPY_BUFFER))

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except IsADirectoryError:
            return  # a prefix of other keys, not an object: nothing to delete
        except OSError as exc:
            raise self._error(exc, "delete", key) from exc

    def keys_modified_before(self, prefix: str, before: datetime, *, limit: int) -> list[str]:
        top = self._path(prefix.rstrip("/"))
        cutoff = before.timestamp()
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(top):
            # Dot names are the store's own (its temp directory), never objects.
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if name.startswith(".") or path.stat().st_mtime >= cutoff:
                    continue
                found.append(path.relative_to(self._root).as_posix())
                if len(found) >= limit:
                    return found
        return found

    # --- reads -------------------------------------------------------------------------

    def get_bytes(self, key: str, *, max_bytes: int | None = None) -> bytes:
        with self._open(key) as src:
            size = os.fstat(src.fileno()).st_size
            if max_bytes is not None and size > max_bytes:
                raise BlobTooLargeError(
                    f"object {key} is {size} bytes, more than the {max_bytes} asked for",
                    details={"key": key, "size": size, "max_bytes": max_bytes},
                )
            try:
                return src.read()
            except OSError as exc:
                raise self._error(exc, "read", key) from exc

    def download(self, key: str, dest: Path) -> None:
        with self._open(key) as src:
            _write_atomically(
                dest,
                dest.parent,
                lambda out: shutil.copyfileobj(src, out, _COPY_BUFFER),
                lambda exc: self._error(exc, "download", key, where=dest),
            )

    def iter_chunks(self, key: str, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> BlobStream:
        if chunk_size < 1:
            raise InvalidInputError(f"chunk_size must be positive, got {chunk_size}")
        src = self._open(key)
        size = os.fstat(src.fileno()).st_size
        return BlobStream(self._chunks(src, key, chunk_size), size=size, close=src.close)

    def read_tail(self, key: str, n: int) -> bytes:
        if n < 0:
            raise InvalidInputError(f"read_tail needs n >= 0, got {n}")
        with self._open(key) as src:
            size = os.fstat(src.fileno()).st_size
            try:
                src.seek(max(0, size - n))
                return src.read(n)
            except OSError as exc:
                raise self._error(exc, "read", key) from exc

    def size(self, key: str) -> int | None:
        path = self._path(key)
        try:
            stat = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise self._error(exc, "stat", key) from exc
        # A directory is a prefix of other keys: like S3, there is no object under it.
        return stat.st_size if S_ISREG(stat.st_mode) else None

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    # --- internals ---------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        return self._root / validate_key(key)

    def _open(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise BlobNotFoundError(
                f"no object {key} in the {self.describe()}", details={"key": key}
            ) from exc
        except OSError as exc:
            raise self._error(exc, "open", key) from exc

    def _chunks(self, src: BinaryIO, key: str, chunk_size: int) -> Iterator[bytes]:
        while True:
            try:
                chunk = src.read(chunk_size)
            except OSError as exc:
                raise self._error(exc, "read", key) from exc
            if not chunk:
                return
            yield chunk

    def _write(self, key: str, fill: Callable[[BinaryIO], object]) -> None:
        final = self._path(key)
        _write_atomically(
            final, self._root / _TMP_DIR, fill, lambda exc: self._error(exc, "write", key)
        )

    def _error(self, exc: OSError, op: str, key: str, *, where: Path | None = None) -> ShoalError:
        place = where or self._root
        what = f"could not {op} object {key} ({place})"
        details = {"key": key, "path": str(place), "errno": exc.errno}
        if exc.errno in _FULL:
            return BlobStoreUnavailableError(
                f"{what}: no space left on the device. Free space there or give SHOAL_DATA_DIR "
                "a larger volume; nothing was written under the key.",
                details=details,
            )
        if exc.errno == errno.EFBIG:
            return BlobStoreUnavailableError(
                f"{what}: the file size limit was reached (ulimit -f, or the filesystem's "
                "largest file); nothing was written under the key.",
                details=details,
            )
        if exc.errno in (errno.EACCES, errno.EPERM):
            return BlobStoreConfigError(
                f"{what}: permission denied. Make SHOAL_DATA_DIR writable by the user running "
                "Shoal.",
                details=details,
            )
        if exc.errno in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
            return InvalidBlobKeyError(
                f"{what}: the filesystem store cannot hold both a key and keys below it "
                "(like 'a' and 'a/b').",
                details=details,
            )
        if exc.errno in _TRANSIENT:
            return BlobStoreUnavailableError(f"{what}: {exc.strerror}", details=details)
        return BlobStoreError(f"{what}: {exc.strerror}", details=details)


def _write_atomically(
    final: Path,
    tmp_dir: Path,
    fill: Callable[[BinaryIO], object],
    translate: Callable[[OSError], ShoalError],
) -> None:
    tmp: str | None = None
    try:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix=".put-")
        with os.fdopen(fd, "wb") as out:
            fill(out)
            out.flush()
            os.fsync(out.fileno())
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        tmp = None
        _fsync_dir(final.parent)
    except OSError as exc:
        raise translate(exc) from exc
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def _fsync_dir(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
