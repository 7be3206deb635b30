"""Object storage for patches, logs and workspace caches: one port, a filesystem and an S3
implementation, content addressing, and the typed errors callers decide on.

Only the api and worker processes hold object-store credentials; runners never import this.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shoal.blobs.content import BlobRef, ContentStore, content_key, put_content_addressed
from shoal.blobs.errors import (
    BlobNotFoundError,
    BlobStoreConfigError,
    BlobStoreError,
    BlobStoreUnavailableError,
    BlobTooLargeError,
    InvalidBlobKeyError,
)
from shoal.blobs.filesystem import FilesystemObjectStore
from shoal.blobs.from_settings import open_object_store
from shoal.blobs.keys import validate_key
from shoal.blobs.store import DEFAULT_CHUNK_SIZE, BlobStream, ObjectStore

if TYPE_CHECKING:
    from shoal.blobs.s3 import S3ObjectStore, make_s3_client

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "BlobNotFoundError",
    "BlobRef",
    "BlobStoreConfigError",
    "BlobStoreError",
    "BlobStoreUnavailableError",
    "BlobStream",
    "BlobTooLargeError",
    "ContentStore",
    "FilesystemObjectStore",
    "InvalidBlobKeyError",
    "ObjectStore",
    "S3ObjectStore",
    "content_key",
    "make_s3_client",
    "open_object_store",
    "put_content_addressed",
    "validate_key",
]

_S3_NAMES = frozenset({"S3ObjectStore", "make_s3_client"})


def __getattr__(name: str) -> object:
    # The S3 store is imported on first use: boto3 takes a good part of a second to load, and
    # a process on the filesystem store (`shoal up`, `shoal admin`) never needs it.
    if name in _S3_NAMES:
        from shoal.blobs import s3

        return getattr(s3, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
