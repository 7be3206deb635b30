"""Object keys: the one rule both stores share, so a key valid for one is valid for the other.

A key is `/`-separated segments of `[A-Za-z0-9._~=+@,-]`. A segment never starts with a dot,
which rules out `.` and `..` (a key maps to a path under the filesystem store's root and can
never leave it) and reserves dot names for the store's own bookkeeping (its temp directory).
The length limits are S3's (1024 bytes per key) and Linux's (255 bytes per file name).
"""

from __future__ import annotations

import re

from shoal.blobs.errors import InvalidBlobKeyError

__all__ = ["MAX_KEY_BYTES", "MAX_SEGMENT_BYTES", "validate_key"]

MAX_KEY_BYTES = 1024
MAX_SEGMENT_BYTES = 255

_SEGMENT = re.compile(r"[A-Za-z0-9_~=+@,-][A-Za-z0-9._~=+@,-]*")


def validate_key(key: str) -> str:
    """Return `key` unchanged if it is a valid object key, else raise `InvalidBlobKeyError`."""
    if not key:
        raise InvalidBlobKeyError("an object key must not be empty")
    shown = repr(key[:80])
    if len(key.encode()) > MAX_KEY_BYTES:
        raise InvalidBlobKeyError(f"object key {shown}... is longer than {MAX_KEY_BYTES} bytes")
    if key.startswith("/"):
        raise InvalidBlobKeyError(f"object key {shown} must be relative (no leading '/')")
    for segment in key.split("/"):
        if not segment:
            raise InvalidBlobKeyError(
                f"object key {shown} has an empty segment ('//' or '/' at an end)"
            )
        if len(segment) > MAX_SEGMENT_BYTES:
            raise InvalidBlobKeyError(
                f"object key {shown} has a segment longer than {MAX_SEGMENT_BYTES} bytes"
            )
        if segment.startswith("."):
            raise InvalidBlobKeyError(
                f"object key {shown}: a segment must not start with '.' ('..' could leave the "
                "store, and dot names are reserved)"
            )
        if not _SEGMENT.fullmatch(segment):
            raise InvalidBlobKeyError(
                f"object key {shown} may only hold letters, digits, '/' and ._~=+@,-"
            )
    return key
