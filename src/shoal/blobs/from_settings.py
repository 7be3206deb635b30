"""Building the configured object store from Settings: the one place that reads `object_store`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shoal.blobs.filesystem import FilesystemObjectStore
from shoal.blobs.store import ObjectStore

if TYPE_CHECKING:
    from shoal.config import Settings

__all__ = ["open_object_store"]


def open_object_store(settings: Settings, *, ensure_bucket: bool = False) -> ObjectStore:
    """`fs`: `<data_dir>/objects`. `s3`: `s3_bucket` at `s3_endpoint_url` (AWS when unset).

    `ensure_bucket` creates a missing bucket (single-node and test set-ups); production
    buckets are usually created by whoever owns the storage, with its own policy.
    """
    if settings.object_store == "fs":
        return FilesystemObjectStore(settings.data_dir / "objects")
    from shoal.blobs.s3 import S3ObjectStore, make_s3_client  # boto3 only when S3 is used

    client = make_s3_client(
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        access_key_id=settings.s3_access_key_id,
        secret_access_key=settings.s3_secret_access_key,
    )
    store = S3ObjectStore(client, settings.s3_bucket)
    if ensure_bucket:
        store.ensure_bucket()
    return store
