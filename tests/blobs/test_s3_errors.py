"""The S3 error translation table: code and status in, Shoal error type out."""

from __future__ import annotations

from typing import Any

import pytest
from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from shoal.blobs import (
    BlobNotFoundError,
    BlobStoreConfigError,
    BlobStoreError,
    BlobStoreUnavailableError,
)
from shoal.blobs.s3_errors import S3Place, display_endpoint, translate_s3_error
from shoal.domain.errors import ShoalError

PLACE = S3Place("https://minio.internal:9000", "shoal")


def _client_error(code: str, status: int) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": "server text"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "GetObject")


def _wrapped() -> BaseException:
    try:
        try:
            raise _client_error("SlowDown", 503)
        except ClientError as exc:
            raise S3UploadFailedError("Failed to upload") from exc
    except S3UploadFailedError as outer:
        return outer


@pytest.mark.parametrize(
    ("exc", "key", "expected", "retryable"),
    [
        (_client_error("NoSuchKey", 404), "k", BlobNotFoundError, False),
        (_client_error("404", 404), "k", BlobNotFoundError, False),
        (_client_error("404", 404), None, BlobStoreConfigError, False),
        (_client_error("NoSuchBucket", 404), "k", BlobStoreConfigError, False),
        (_client_error("SignatureDoesNotMatch", 403), "k", BlobStoreConfigError, False),
        (_client_error("InvalidAccessKeyId", 403), "k", BlobStoreConfigError, False),
        (_client_error("AccessDenied", 403), "k", BlobStoreConfigError, False),
        (_client_error("RequestTimeTooSkewed", 403), "k", BlobStoreConfigError, False),
        (_client_error("SlowDown", 503), "k", BlobStoreUnavailableError, True),
        (_client_error("InternalError", 500), "k", BlobStoreUnavailableError, True),
        (_client_error("SomethingNew", 502), "k", BlobStoreUnavailableError, True),
        (_client_error("EntityTooLarge", 400), "k", BlobStoreError, False),
        (EndpointConnectionError(endpoint_url="https://minio.internal:9000"), "k",
         BlobStoreUnavailableError, True),
        (NoCredentialsError(), "k", BlobStoreConfigError, False),
        (_wrapped(), "k", BlobStoreUnavailableError, True),
        (ValueError("not boto"), "k", BlobStoreError, False),
    ],
    ids=[
        "no-such-key", "head-404", "head-bucket-404", "no-such-bucket", "bad-signature",
        "unknown-key-id", "access-denied", "clock-skew", "slow-down", "internal-error",
        "unknown-5xx", "unknown-4xx", "connection-refused", "no-credentials",
        "wrapped-by-transfer", "foreign",
    ],
)  # fmt: skip
def test_translation(
    exc: BaseException, key: str | None, expected: type[ShoalError], retryable: bool
) -> None:
    error = translate_s3_error(exc, op="read", key=key, place=PLACE)

    assert type(error) is expected
    assert error.retryable is retryable
    assert "shoal" in error.message and "minio.internal:9000" in error.message
    assert "server text" not in error.message  # the server's words are not echoed


def test_only_writes_promise_nothing_was_stored() -> None:
    exc = _client_error("SlowDown", 503)

    write = translate_s3_error(exc, op="write", key="k", place=PLACE)
    read = translate_s3_error(exc, op="read", key="k", place=PLACE)

    assert "Nothing was stored under the key" in write.message
    assert "Nothing was stored" not in read.message


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:secret@127.0.0.1:9000/", "http://127.0.0.1:9000/"),
        ("https://s3.example.com", "https://s3.example.com"),
        ("https://AKIA:x@s3.example.com/base?token=t", "https://s3.example.com/base"),
    ],
    ids=["userinfo", "plain", "userinfo-and-query"],
)
def test_display_endpoint_drops_credentials(url: str, shown: str) -> None:
    assert display_endpoint(url) == shown
