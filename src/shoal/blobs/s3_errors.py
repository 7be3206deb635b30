"""The one place that reads S3 and botocore errors and turns them into Shoal's error tree.

Decisions rest on the S3 error code and the HTTP status, never on message text. The server's
own message is not copied into ours: for signature errors it can echo the string to sign.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from boto3.exceptions import RetriesExceededError
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
)

from shoal.blobs.errors import (
    BlobNotFoundError,
    BlobStoreConfigError,
    BlobStoreError,
    BlobStoreUnavailableError,
)
from shoal.domain.errors import ShoalError

__all__ = ["S3Place", "display_endpoint", "translate_s3_error"]

_NOT_FOUND = frozenset({"NoSuchKey", "404", "NotFound"})
_BAD_CREDENTIALS = frozenset(
    {
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "InvalidToken",
        "ExpiredToken",
        "TokenRefreshRequired",
        "AuthorizationHeaderMalformed",
        "InvalidClientTokenId",
    }
)
_DENIED = frozenset({"AccessDenied", "403", "Forbidden", "AllAccessDisabled", "AccountProblem"})
_BUSY = frozenset(
    {
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
        "RequestTimeout",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "503",
        "500",
    }
)
_CONNECTION_ERRORS = (ConnectionError, HTTPClientError, IncompleteReadError, RetriesExceededError)
_CREDENTIAL_SETTINGS = "SHOAL_S3_ACCESS_KEY_ID and SHOAL_S3_SECRET_ACCESS_KEY"
_RULES: tuple[tuple[frozenset[str], type[ShoalError], str], ...] = (
    (
        frozenset({"NoSuchBucket"}),
        BlobStoreConfigError,
        "the bucket does not exist. Create it, or point SHOAL_S3_BUCKET at an existing one.",
    ),
    (
        _BAD_CREDENTIALS,
        BlobStoreConfigError,
        f"the S3 server rejected the credentials ({{code}}). Check {_CREDENTIAL_SETTINGS}.",
    ),
    (
        _DENIED,
        BlobStoreConfigError,
        f"access denied. Check {_CREDENTIAL_SETTINGS} and that the bucket policy lets them "
        "read and write.",
    ),
    (
        frozenset({"RequestTimeTooSkewed"}),
        BlobStoreConfigError,
        "this machine's clock is too far from the server's; synchronize it (NTP).",
    ),
    (
        _BUSY,
        BlobStoreUnavailableError,
        "the S3 server is failing or busy ({code}).",
    ),
)


class S3Place:
    """What a message says about where: endpoint (without userinfo) and bucket."""

    def __init__(self, endpoint_url: str, bucket: str) -> None:
        self.endpoint = display_endpoint(endpoint_url)
        self.bucket = bucket

    def __str__(self) -> str:
        return f"bucket {self.bucket} at {self.endpoint}"


def display_endpoint(url: str) -> str:
    """`url` without any `user:password@` part, so it is safe in messages and logs."""
    parts = urlsplit(url)
    if parts.hostname is None:
        return url
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def translate_s3_error(
    exc: BaseException, *, op: str, key: str | None, place: S3Place
) -> ShoalError:
    """Map an exception raised by boto3 during `op` to the error Shoal callers decide on.

    `op` is a verb for the message; "write" adds that no partial object was left behind.
    """
    what = f"could not {op} " + (f"object {key} in {place}" if key else str(place))
    after = " Nothing was stored under the key." if op == "write" else ""
    details: dict[str, object] = {"bucket": place.bucket, "endpoint": place.endpoint}
    if key:
        details["key"] = key
    cause = _botocore_cause(exc)
    if isinstance(cause, ClientError):
        return _from_client_error(cause, what, after, details, key=key, place=place)
    if isinstance(cause, _CONNECTION_ERRORS):
        return BlobStoreUnavailableError(
            f"{what}: the connection to the S3 endpoint failed ({type(cause).__name__}). Check "
            f"that it is up and reachable (SHOAL_S3_ENDPOINT_URL).{after}",
            details=details,
        )
    if isinstance(cause, (NoCredentialsError, PartialCredentialsError)):
        return BlobStoreConfigError(
            f"{what}: no S3 credentials. Set {_CREDENTIAL_SETTINGS} (or provide AWS "
            "credentials through the environment or an instance role).",
            details=details,
        )
    return BlobStoreError(f"{what}: {type(exc).__name__}", details=details)


def _botocore_cause(exc: BaseException) -> BaseException:
    # boto3's transfer layer re-raises ClientErrors inside its own exception types.
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (ClientError, BotoCoreError, RetriesExceededError)):
            return seen
        seen = seen.__cause__ or seen.__context__
    return exc


def _from_client_error(
    exc: ClientError,
    what: str,
    after: str,
    details: dict[str, object],
    *,
    key: str | None,
    place: S3Place,
) -> ShoalError:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    details = {**details, "s3_code": code, "status": status}
    if code in _NOT_FOUND and key:
        return BlobNotFoundError(f"no object {key} in {place}", details=details)
    if code in _NOT_FOUND:  # HEAD on a bucket answers a bare 404
        code = "NoSuchBucket"
    for codes, error, advice in _RULES:
        if code in codes:
            retry = " Retry later." if error.retryable else ""
            return error(f"{what}: {advice.format(code=code)}{retry}{after}", details=details)
    if status >= 500:
        return BlobStoreUnavailableError(
            f"{what}: the S3 server failed (HTTP {status}). Retry later.{after}", details=details
        )
    return BlobStoreError(f"{what}: S3 error {code or status}", details=details)
