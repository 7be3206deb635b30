"""`S3ObjectStore`: objects in one bucket of any S3-compatible server (AWS, SeaweedFS, MinIO).

S3 makes each PUT atomic, and a multipart upload is invisible until completed (boto3 aborts
it on failure), so a failed write never leaves a partial object under its key. Uploads above
`multipart_threshold` go multipart through boto3's transfer manager; smaller ones are one PUT.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

import boto3
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.response import StreamingBody
from pydantic import SecretStr

from shoal.blobs.errors import BlobNotFoundError, BlobStoreConfigError, BlobTooLargeError
from shoal.blobs.keys import validate_key
from shoal.blobs.s3_errors import S3Place, translate_s3_error
from shoal.blobs.store import DEFAULT_CHUNK_SIZE, BlobStream
from shoal.domain.errors import InvalidInputError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.literals import BucketLocationConstraintType

__all__ = ["DEFAULT_MULTIPART_THRESHOLD", "S3ObjectStore", "make_s3_client"]

DEFAULT_MULTIPART_THRESHOLD = 8 << 20
_BOTO_ERRORS = (ClientError, BotoCoreError, Boto3Error)
_OCTET_STREAM = "application/octet-stream"
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


def make_s3_client(
    *,
    endpoint_url: str | None,
    region: str,
    access_key_id: SecretStr | None,
    secret_access_key: SecretStr | None,
    max_attempts: int = 5,
    connect_timeout_s: float = 5.0,
    read_timeout_s: float = 60.0,
) -> S3Client:
    """An S3 client for Shoal: SigV4, path-style addressing, bounded retries and timeouts.

    `max_attempts` counts every try (the first included); botocore backs off between them
    with jitter. Without keys, boto3's default chain applies (AWS_* environment, instance
    role).
    """
    if (access_key_id is None) != (secret_access_key is None):
        raise BlobStoreConfigError(
            "set both SHOAL_S3_ACCESS_KEY_ID and SHOAL_S3_SECRET_ACCESS_KEY, or neither"
        )
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=connect_timeout_s,
        read_timeout=read_timeout_s,
        max_pool_connections=32,
        # Checksums only where S3 requires them: several S3-compatible servers reject the
        # CRC headers newer botocore adds by default.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    # A session of our own: boto3's module-level default session is shared mutable state.
    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key_id.get_secret_value() if access_key_id else None,
        aws_secret_access_key=secret_access_key.get_secret_value() if secret_access_key else None,
        config=config,
    )


class S3ObjectStore:
    def __init__(
        self,
        client: S3Client,
        bucket: str,
        *,
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
        max_concurrency: int = 4,
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._place = S3Place(client.meta.endpoint_url, bucket)
        self._multipart_threshold = multipart_threshold
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=max(multipart_threshold, 5 << 20),  # S3's smallest part
            max_concurrency=max_concurrency,
            preferred_transfer_client="classic",
        )

    @property
    def bucket(self) -> str:
        return self._bucket

    def describe(self) -> str:
        return f"S3 {self._place}"

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (needs the CreateBucket permission)."""
        try:
            self._client.head_bucket(Bucket=self._bucket)
            return
        except ClientError as exc:
            if _code(exc) not in {"404", "NoSuchBucket"}:
                raise translate_s3_error(exc, op="check", key=None, place=self._place) from exc
        except BotoCoreError as exc:
            raise translate_s3_error(exc, op="check", key=None, place=self._place) from exc
        region = self._client.meta.region_name
        try:
            if region and region != "us-east-1":
                self._client.create_bucket(
                    Bucket=self._bucket,
                    CreateBucketConfiguration={
                        "LocationConstraint": cast("BucketLocationConstraintType", region)
                    },
                )
            else:
                self._client.create_bucket(Bucket=self._bucket)
        except ClientError as exc:
            # Another process won the race to create it: the bucket exists, which is the goal.
            if _code(exc) != "BucketAlreadyOwnedByYou":
                raise translate_s3_error(exc, op="create", key=None, place=self._place) from exc
        except BotoCoreError as exc:
            raise translate_s3_error(exc, op="create", key=None, place=self._place) from exc

    # --- writes ------------------------------------------------------------------------

    def put_bytes(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        validate_key(key)
        content_type = content_type or _OCTET_STREAM
        try:
            if len(data) < self._multipart_threshold:
                self._client.put_object(
                    Bucket=self._bucket, Key=key, Body=data, ContentType=content_type
                )
            else:
                self._client.upload_fileobj(
                    io.BytesIO(data),
                    self._bucket,
                    key,
                    ExtraArgs={"ContentType": content_type},
                    Config=self._transfer,
                )
        except _BOTO_ERRORS as exc:
            raise translate_s3_error(exc, op="write", key=key, place=self._place) from exc

    def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> None:
        validate_key(key)
        extra = {"ContentType": content_type or _OCTET_STREAM}
        with path.open("rb") as src:
            try:
                # upload_fileobj, not upload_file: the latter hides the ClientError's code.
                self._client.upload_fileobj(
                    src, self._bucket, key, ExtraArgs=extra, Config=self._transfer
                )
            except _BOTO_ERRORS as exc:
                raise translate_s3_error(exc, op="write", key=key, place=self._place) from exc

    def delete(self, key: str) -> None:
        validate_key(key)
        try:
            self._client.delete_object(Bucket=self._bucket, Key=key)
        except _BOTO_ERRORS as exc:
            raise translate_s3_error(exc, op="delete", key=key, place=self._place) from exc

    def keys_modified_before(self, prefix: str, before: datetime, *, limit: int) -> list[str]:
        validate_key(prefix.rstrip("/"))
        found: list[str] = []
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self._bucket, Prefix=prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    if item["LastModified"] < before:
                        found.append(item["Key"])
                        if len(found) >= limit:
                            return found
        except _BOTO_ERRORS as exc:
            raise translate_s3_error(exc, op="list", key=prefix, place=self._place) from exc
        return found

    # --- reads -------------------------------------------------------------------------

    def get_bytes(self, key: str, *, max_bytes: int | None = None) -> bytes:
        body, size = self._get(key)
        with body:
            if max_bytes is not None and size > max_bytes:
                raise BlobTooLargeError(
                    f"object {key} is {size} bytes, more than the {max_bytes} asked for",
                    details={"key": key, "size": size, "max_bytes": max_bytes},
                )
            try:
                return body.read()
            except _BOTO_ERRORS as exc:
                raise translate_s3_error(exc, op="read", key=key, place=self._place) from exc

    def download(self, key: str, dest: Path) -> None:
        validate_key(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            # The transfer manager writes a temp file next to dest and renames it at the end.
            self._client.download_file(self._bucket, key, os.fspath(dest), Config=self._transfer)
        except _BOTO_ERRORS as exc:
            raise translate_s3_error(exc, op="download", key=key, place=self._place) from exc

    def iter_chunks(self, key: str, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> BlobStream:
        if chunk_size < 1:
            raise InvalidInputError(f"chunk_size must be positive, got {chunk_size}")
        body, size = self._get(key)
        return BlobStream(self._chunks(body, key, chunk_size), size=size, close=body.close)

    def read_tail(self, key: str, n: int) -> bytes:
        if n < 0:
            raise InvalidInputError(f"read_tail needs n >= 0, got {n}")
        if n == 0:
            # S3 has no empty suffix range; a missing key is still an error.
            if self.size(key) is None:
                raise BlobNotFoundError(f"no object {key} in {self._place}", details={"key": key})
            return b""
        try:
            body, _ = self._get(key, range_=f"bytes=-{n}")
        except _EmptyObjectError:
            return b""
        with body:
            try:
                return body.read()
            except _BOTO_ERRORS as exc:
                raise translate_s3_error(exc, op="read", key=key, place=self._place) from exc

    def size(self, key: str) -> int | None:
        validate_key(key)
        try:
            head = self._client.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise translate_s3_error(exc, op="look up", key=key, place=self._place) from exc
        except _BOTO_ERRORS as exc:
            raise translate_s3_error(exc, op="look up", key=key, place=self._place) from exc
        return int(head["ContentLength"])

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    # --- internals ---------------------------------------------------------------------

    def _get(self, key: str, *, range_: str | None = None) -> tuple[StreamingBody, int]:
        validate_key(key)
        try:
            if range_ is None:
                resp = self._client.get_object(Bucket=self._bucket, Key=key)
            else:
                resp = self._client.get_object(Bucket=self._bucket, Key=key, Range=range_)
        except ClientError as exc:
            if range_ and _code(exc) == "InvalidRange":
                raise _EmptyObjectError from exc  # a suffix range of an empty object
            raise translate_s3_error(exc, op="read", key=key, place=self._place) from exc
        except _BOTO_ERRORS as exc:
            raise translate_s3_error(exc, op="read", key=key, place=self._place) from exc
        return resp["Body"], int(resp["ContentLength"])

    def _chunks(self, body: StreamingBody, key: str, chunk_size: int) -> Iterator[bytes]:
        try:
            yield from body.iter_chunks(chunk_size)
        except _BOTO_ERRORS as exc:
            raise translate_s3_error(exc, op="read", key=key, place=self._place) from exc


class _EmptyObjectError(Exception):
    pass


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
