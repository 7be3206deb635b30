"""The object-store contract, run against both implementations (`store` is parametrized:
a directory and a bucket on a real SeaweedFS S3 server)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shoal.blobs import (
    BlobNotFoundError,
    BlobTooLargeError,
    InvalidBlobKeyError,
    ObjectStore,
    put_content_addressed,
)

MiB = 1 << 20


def test_bytes_round_trip(store: ObjectStore) -> None:
    store.put_bytes("logs/run-1/exec-1.log", b"hello\nworld\n", content_type="text/plain")

    assert store.get_bytes("logs/run-1/exec-1.log") == b"hello\nworld\n"
    assert store.size("logs/run-1/exec-1.log") == 12
    assert store.exists("logs/run-1/exec-1.log")


def test_every_allowed_character_round_trips(store: ObjectStore) -> None:
    key = "a/b.c/d~e=f+g,h@i_j-K9"
    store.put_bytes(key, b"v")

    assert store.get_bytes(key) == b"v"
    assert store.exists(key)


def test_empty_object_round_trip(store: ObjectStore) -> None:
    store.put_bytes("empty", b"")

    assert store.get_bytes("empty") == b""
    assert store.size("empty") == 0
    assert store.read_tail("empty", 10) == b""
    assert list(store.iter_chunks("empty")) == []


def test_file_round_trip_and_download(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "patch.diff"
    src.write_bytes(b"diff --git a/x b/x\n" * 1000)
    store.put_file("patches/p1", src)

    dest = tmp_path / "out" / "deep" / "p1.diff"
    store.download("patches/p1", dest)

    assert dest.read_bytes() == src.read_bytes()
    assert [p.name for p in dest.parent.iterdir()] == ["p1.diff"]  # no temp file left


def test_same_put_twice_is_a_no_op_in_effect(store: ObjectStore) -> None:
    store.put_bytes("a/b", b"same")
    store.put_bytes("a/b", b"same")

    assert store.get_bytes("a/b") == b"same"


def test_a_put_replaces_the_whole_object(store: ObjectStore) -> None:
    store.put_bytes("a/b", b"a longer first version")
    store.put_bytes("a/b", b"short")

    assert store.get_bytes("a/b") == b"short"


def test_delete_is_idempotent(store: ObjectStore) -> None:
    store.put_bytes("gone", b"x")
    store.delete("gone")
    store.delete("gone")

    assert not store.exists("gone")
    assert store.size("gone") is None


def test_a_prefix_of_keys_is_not_an_object(store: ObjectStore) -> None:
    store.put_bytes("dir/file", b"x")

    assert store.size("dir") is None
    with pytest.raises(BlobNotFoundError):
        store.get_bytes("dir")


@pytest.mark.parametrize(
    "read",
    [
        lambda s, _: s.get_bytes("no/such/key"),
        lambda s, _: s.iter_chunks("no/such/key"),
        lambda s, p: s.download("no/such/key", p / "out"),
        lambda s, _: s.read_tail("no/such/key", 10),
        lambda s, _: s.read_tail("no/such/key", 0),
    ],
    ids=["get_bytes", "iter_chunks", "download", "read_tail", "read_tail-0"],
)
def test_reading_a_missing_key_raises_not_found(
    store: ObjectStore, tmp_path: Path, read: Callable[[ObjectStore, Path], object]
) -> None:
    with pytest.raises(BlobNotFoundError) as info:
        read(store, tmp_path)

    assert info.value.code == "blob_not_found"
    assert "no/such/key" in info.value.message
    assert not info.value.retryable
    assert not (tmp_path / "out").exists()


def test_missing_key_answers_without_raising(store: ObjectStore) -> None:
    assert store.size("nothing/here") is None
    assert store.exists("nothing/here") is False


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.put_bytes("../escape", b"x"),
        lambda s: s.put_bytes("/abs", b"x"),
        lambda s: s.put_bytes("nul\x00", b"x"),
        lambda s: s.get_bytes("a/../b"),
        lambda s: s.size("../x"),
        lambda s: s.exists(""),
        lambda s: s.delete(".tmp/x"),
        lambda s: s.iter_chunks("a//b"),
        lambda s: s.read_tail("../x", 1),
    ],
    ids=[
        "put-dotdot",
        "put-absolute",
        "put-nul",
        "get",
        "size",
        "exists",
        "delete-reserved",
        "iter",
        "tail",
    ],
)
def test_every_method_validates_the_key(
    store: ObjectStore, call: Callable[[ObjectStore], object]
) -> None:
    with pytest.raises(InvalidBlobKeyError):
        call(store)


def test_get_bytes_respects_max_bytes(store: ObjectStore) -> None:
    store.put_bytes("k", b"0123456789")

    assert store.get_bytes("k", max_bytes=10) == b"0123456789"
    with pytest.raises(BlobTooLargeError) as info:
        store.get_bytes("k", max_bytes=9)
    assert info.value.details == {"key": "k", "size": 10, "max_bytes": 9}


@pytest.mark.parametrize(
    ("n", "tail"),
    [(0, b""), (1, b"9"), (4, b"6789"), (10, b"0123456789"), (100, b"0123456789")],
    ids=["zero", "one", "some", "exact", "more-than-size"],
)
def test_read_tail(store: ObjectStore, n: int, tail: bytes) -> None:
    store.put_bytes("log", b"0123456789")

    assert store.read_tail("log", n) == tail


def test_streaming_a_20_mib_object(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(20 * MiB))
    store.put_file("workspaces/big", src)  # above the multipart threshold on S3

    digest = hashlib.sha256()
    sizes = []
    with store.iter_chunks("workspaces/big", chunk_size=MiB) as stream:
        assert stream.size == 20 * MiB
        for chunk in stream:
            sizes.append(len(chunk))
            digest.update(chunk)

    assert sum(sizes) == 20 * MiB
    assert max(sizes) <= MiB
    assert len(sizes) >= 20
    assert digest.hexdigest() == hashlib.sha256(src.read_bytes()).hexdigest()
    assert store.size("workspaces/big") == 20 * MiB


def test_large_put_bytes_round_trips(store: ObjectStore) -> None:
    data = os.urandom(9 * MiB)  # multipart on S3
    store.put_bytes("big/bytes", data)

    assert store.get_bytes("big/bytes") == data


def test_a_stream_closed_early_lets_go(store: ObjectStore) -> None:
    store.put_bytes("k", b"x" * 100)
    stream = store.iter_chunks("k", chunk_size=10)

    assert next(stream) == b"x" * 10
    stream.close()
    stream.close()

    assert list(stream) == []
    assert store.get_bytes("k") == b"x" * 100


def test_content_addressing_stores_once(store: ObjectStore) -> None:
    puts = _CountingStore(store)
    data = b"diff --git a/README b/README\n+hello\n"
    digest = hashlib.sha256(data).hexdigest()

    first = put_content_addressed(puts, "patches", data)
    second = put_content_addressed(puts, "patches", data)

    assert first == second
    assert first.key == f"patches/sha256/{digest[:2]}/{digest}"
    assert (first.sha256, first.size) == (digest, len(data))
    assert puts.puts == 1
    assert store.get_bytes(first.key) == data


def test_content_addressing_a_file_matches_bytes(store: ObjectStore, tmp_path: Path) -> None:
    data = os.urandom(3 * MiB)
    path = tmp_path / "blob"
    path.write_bytes(data)
    puts = _CountingStore(store)

    from_file = put_content_addressed(puts, "cache", path)
    from_bytes = put_content_addressed(puts, "cache", data)

    assert from_file == from_bytes
    assert from_file.sha256 == hashlib.sha256(data).hexdigest()
    assert puts.puts == 1
    assert store.get_bytes(from_file.key) == data


def test_content_addressing_replaces_a_truncated_object(store: ObjectStore) -> None:
    data = b"the whole patch"
    digest = hashlib.sha256(data).hexdigest()
    store.put_bytes(f"patches/sha256/{digest[:2]}/{digest}", b"the wh")

    ref = put_content_addressed(store, "patches", data)

    assert store.get_bytes(ref.key) == data


class _CountingStore:
    """A real store that counts writes (to see that a dedupe skipped the upload)."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner
        self.puts = 0

    def size(self, key: str) -> int | None:
        return self.inner.size(key)

    def put_bytes(self, key: str, data: bytes, *, content_type: str | None = None) -> None:
        self.puts += 1
        self.inner.put_bytes(key, data, content_type=content_type)

    def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> None:
        self.puts += 1
        self.inner.put_file(key, path, content_type=content_type)


def test_keys_modified_before_lists_old_keys_under_a_prefix(store: ObjectStore) -> None:
    for name in ("a", "b", "c"):
        store.put_bytes(f"workspaces/1/{name}.tar.gz", b"x")
    store.put_bytes("workspacesX/other", b"x")
    store.put_bytes("patches/keep", b"x")
    now = datetime.now(UTC)

    later = now + timedelta(minutes=5)
    assert sorted(store.keys_modified_before("workspaces/", later, limit=10)) == [
        "workspaces/1/a.tar.gz",
        "workspaces/1/b.tar.gz",
        "workspaces/1/c.tar.gz",
    ]
    assert len(store.keys_modified_before("workspaces/", later, limit=2)) == 2
    assert store.keys_modified_before("workspaces/", now - timedelta(hours=1), limit=10) == []
    assert store.keys_modified_before("nothing/", later, limit=10) == []
