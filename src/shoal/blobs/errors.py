"""The object store's errors: what went wrong, where, and whether a retry can help.

Every message names the operation, the key and the place (a directory or an endpoint and
bucket) and, when an operator must act, the setting to check. No message carries a secret.
"""

from __future__ import annotations

from shoal.domain.errors import InvalidInputError, NotFoundError, ShoalError, UnavailableError

__all__ = [
    "BlobNotFoundError",
    "BlobStoreConfigError",
    "BlobStoreError",
    "BlobStoreUnavailableError",
    "BlobTooLargeError",
    "InvalidBlobKeyError",
]


class BlobStoreError(ShoalError):
    """The store refused an operation for a reason no retry fixes (and no subclass names)."""

    code = "blob_store_error"


class BlobNotFoundError(NotFoundError):
    code = "blob_not_found"


class BlobStoreUnavailableError(UnavailableError):
    """The store cannot take or serve data right now (disk full, S3 5xx, network down).

    Retryable: the task queue backs off and tries again; a failed write left nothing behind.
    """

    code = "blob_store_unavailable"


class BlobStoreConfigError(BlobStoreError):
    """Shoal's own settings are wrong: credentials rejected, bucket missing, path not writable.

    Not the API caller's fault (so neither 401 nor 403) and not retryable: an operator must
    change a setting; the message says which one.
    """

    code = "blob_store_misconfigured"


class BlobTooLargeError(BlobStoreError):
    """An object is larger than the caller agreed to hold in memory."""

    code = "blob_too_large"


class InvalidBlobKeyError(InvalidInputError):
    code = "invalid_blob_key"
