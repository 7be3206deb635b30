"""What only the S3 store can get wrong: credentials, endpoints, server failures, buckets."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from pydantic import SecretStr

from shoal.blobs import (
    BlobStoreConfigError,
    BlobStoreUnavailableError,
    FilesystemObjectStore,
    S3ObjectStore,
    make_s3_client,
    open_object_store,
)
from shoal.config import Settings
from shoal.domain.errors import ShoalError
from tests.blobs.faults import Request, s3_fault_proxy
from tests.s3server import S3Server

MiB = 1 << 20
WRONG_SECRET = "wrong-secret-Zq8xV2"


def _store(endpoint: str, server: S3Server, bucket: str = "bucket-x") -> S3ObjectStore:
    client = make_s3_client(
        endpoint_url=endpoint,
        region=server.region,
        access_key_id=SecretStr(server.access_key),
        secret_access_key=SecretStr(server.secret_key),
        max_attempts=2,
        connect_timeout_s=2,
        read_timeout_s=10,
    )
    return S3ObjectStore(client, bucket)


def _text(exc: ShoalError) -> str:
    return f"{exc} {exc!r} {exc.details}"


def test_the_test_server_enforces_signatures(s3_server: S3Server, s3_store: S3ObjectStore) -> None:
    bad = s3_server.client(secret_key=WRONG_SECRET)

    with pytest.raises(ClientError) as info:
        bad.put_object(Bucket=s3_store.bucket, Key="x", Body=b"x")

    assert info.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.put_bytes("k", b"x"),
        lambda s: s.get_bytes("k"),
        lambda s: s.size("k"),
        lambda s: s.ensure_bucket(),
    ],
    ids=["put", "get", "size", "ensure_bucket"],
)
def test_wrong_credentials_are_refused_with_the_setting_to_check(
    s3_server: S3Server, s3_store: S3ObjectStore, call: Callable[[S3ObjectStore], object]
) -> None:
    store = S3ObjectStore(s3_server.client(secret_key=WRONG_SECRET), s3_store.bucket)
    s3_store.put_bytes("k", b"x")

    with pytest.raises(BlobStoreConfigError) as info:
        call(store)

    assert info.value.retryable is False
    assert "SHOAL_S3_SECRET_ACCESS_KEY" in info.value.message
    assert s3_store.bucket in info.value.message
    assert WRONG_SECRET not in _text(info.value)
    assert s3_server.secret_key not in _text(info.value)


def test_an_unknown_access_key_is_refused(s3_server: S3Server, s3_store: S3ObjectStore) -> None:
    client = s3_server.client(access_key="nobody", secret_key=WRONG_SECRET)

    with pytest.raises(BlobStoreConfigError) as info:
        S3ObjectStore(client, s3_store.bucket).put_bytes("k", b"x")

    assert info.value.details["s3_code"] == "InvalidAccessKeyId"
    assert "SHOAL_S3_ACCESS_KEY_ID" in info.value.message


def test_an_unreachable_endpoint_is_retryable(s3_server: S3Server) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    store = _store(f"http://127.0.0.1:{port}", s3_server)

    with pytest.raises(BlobStoreUnavailableError) as info:
        store.put_bytes("k", b"x")

    assert info.value.retryable is True
    assert f"127.0.0.1:{port}" in info.value.message
    assert "SHOAL_S3_ENDPOINT_URL" in info.value.message
    assert s3_server.secret_key not in _text(info.value)


@pytest.mark.parametrize(
    "call",
    [lambda s: s.put_bytes("k", b"x"), lambda s: s.get_bytes("k"), lambda s: s.size("k")],
    ids=["put", "get", "size"],
)
def test_a_failing_server_is_retryable(
    s3_server: S3Server, call: Callable[[S3ObjectStore], object]
) -> None:
    with s3_fault_proxy(None, lambda _: True) as (url, seen):
        store = _store(url, s3_server)
        with pytest.raises(BlobStoreUnavailableError) as info:
            call(store)

    assert info.value.retryable is True
    assert info.value.details["status"] == 500
    assert len(seen) == 2  # botocore retried once, as configured


def test_a_multipart_upload_failing_midway_leaves_no_object(
    s3_server: S3Server, s3_store: S3ObjectStore, tmp_path: Path
) -> None:
    src = tmp_path / "big"
    src.write_bytes(os.urandom(20 * MiB))

    def second_part(request: Request) -> bool:
        return request.method == "PUT" and "partNumber=2" in request.path

    with s3_fault_proxy(s3_server.endpoint_url, second_part) as (url, seen):
        store = _store(url, s3_server, s3_store.bucket)
        with pytest.raises(BlobStoreUnavailableError) as info:
            store.put_file("workspaces/big", src)

    assert "Nothing was stored under the key" in info.value.message
    assert any("uploads" in r.path and r.method == "POST" for r in seen)  # it was multipart
    assert any("uploadId" in r.path and r.method == "DELETE" for r in seen)  # and aborted
    assert s3_store.size("workspaces/big") is None
    uploads = s3_server.client().list_multipart_uploads(Bucket=s3_store.bucket)
    assert uploads.get("Uploads", []) == []


def test_content_type_is_kept(s3_server: S3Server, s3_store: S3ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "log"
    src.write_text("hello")
    s3_store.put_bytes("a", b"x", content_type="text/plain")
    s3_store.put_file("b", src, content_type="text/plain; charset=utf-8")
    s3_store.put_bytes("c", b"x")

    head = s3_server.client().head_object
    assert head(Bucket=s3_store.bucket, Key="a")["ContentType"] == "text/plain"
    assert head(Bucket=s3_store.bucket, Key="b")["ContentType"] == "text/plain; charset=utf-8"
    assert head(Bucket=s3_store.bucket, Key="c")["ContentType"] == "application/octet-stream"


def test_a_missing_bucket_names_the_setting(s3_server: S3Server) -> None:
    store = s3_server.store(f"missing-{uuid.uuid4().hex[:8]}")

    with pytest.raises(BlobStoreConfigError) as info:
        store.get_bytes("k")

    assert "SHOAL_S3_BUCKET" in info.value.message
    assert info.value.retryable is False


def test_ensure_bucket_creates_once(s3_server: S3Server) -> None:
    bucket = f"ensure-{uuid.uuid4().hex[:8]}"
    store = s3_server.store(bucket)

    store.ensure_bucket()
    store.ensure_bucket()
    store.put_bytes("k", b"v")

    assert store.get_bytes("k") == b"v"
    store.delete("k")
    s3_server.client().delete_bucket(Bucket=bucket)


def test_open_object_store_fs(tmp_path: Path) -> None:
    store = open_object_store(Settings(data_dir=tmp_path, object_store="fs"))

    assert isinstance(store, FilesystemObjectStore)
    store.put_bytes("k", b"v")
    assert (tmp_path / "objects" / "k").read_bytes() == b"v"


def test_open_object_store_s3(s3_server: S3Server) -> None:
    bucket = f"settings-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        object_store="s3",
        s3_endpoint_url=s3_server.endpoint_url,
        s3_bucket=bucket,
        s3_region=s3_server.region,
        s3_access_key_id=SecretStr(s3_server.access_key),
        s3_secret_access_key=SecretStr(s3_server.secret_key),
    )

    store = open_object_store(settings, ensure_bucket=True)
    store.put_bytes("k", b"v")

    assert store.get_bytes("k") == b"v"
    assert s3_server.secret_key not in store.describe()
    store.delete("k")
    s3_server.client().delete_bucket(Bucket=bucket)


def test_half_configured_credentials_are_refused() -> None:
    settings = Settings(
        object_store="s3",
        s3_endpoint_url="http://127.0.0.1:9",
        s3_access_key_id=SecretStr("only-the-id"),
    )

    with pytest.raises(BlobStoreConfigError) as info:
        open_object_store(settings)

    assert "SHOAL_S3_SECRET_ACCESS_KEY" in info.value.message


def test_messages_never_show_endpoint_userinfo(s3_server: S3Server) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = _store(f"http://user:pa55word@127.0.0.1:{port}", s3_server)

    with pytest.raises(BlobStoreUnavailableError) as info:
        store.size("k")

    assert "pa55word" not in _text(info.value)
    assert "pa55word" not in store.describe()
