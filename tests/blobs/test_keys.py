"""Key validation and content keys: pure rules, table-tested."""

from __future__ import annotations

import pytest

from shoal.blobs import InvalidBlobKeyError, content_key, validate_key
from shoal.domain.errors import InvalidInputError

H = "ab" + "0" * 62


@pytest.mark.parametrize(
    "key",
    [
        "a",
        "patches/sha256/ab/" + H,
        "logs/run-12/exec_3.log",
        "workspaces/acme/api@1f2e",
        "a/b.c/d~e=f+g,h",
        "x" * 255,
        "/".join(["y" * 200] * 5),  # 1004 bytes: long but within S3's 1024
    ],
    ids=["one-char", "content-key", "log", "at-sign", "punctuation", "max-segment", "long-key"],
)
def test_valid_keys_are_returned_unchanged(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "../outside",
        "a/../../b",
        "a/./b",
        "a//b",
        "a/",
        ".hidden",
        "a/.tmp/x",
        "nul\x00byte",
        "new\nline",
        "back\\slash",
        "space here",
        "ümlaut",
        "x" * 256,
        "/".join(["y" * 250] * 5),
    ],
    ids=[
        "empty",
        "absolute",
        "dotdot",
        "dotdot-inside",
        "dot",
        "empty-segment",
        "trailing-slash",
        "dotfile",
        "reserved-tmp",
        "nul",
        "newline",
        "backslash",
        "space",
        "non-ascii",
        "segment-too-long",
        "key-too-long",
    ],
)
def test_invalid_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidBlobKeyError) as info:
        validate_key(key)
    assert info.value.code == "invalid_blob_key"
    assert isinstance(info.value, InvalidInputError)


def test_content_key_shards_by_the_first_two_hex_digits() -> None:
    assert content_key("patches", H) == f"patches/sha256/ab/{H}"
    assert content_key("cache/workspaces", H) == f"cache/workspaces/sha256/ab/{H}"


@pytest.mark.parametrize(
    ("namespace", "digest"),
    [("patches", "AB" + "0" * 62), ("patches", "ab"), ("../x", H), ("", H)],
    ids=["uppercase-hex", "short-hex", "bad-namespace", "empty-namespace"],
)
def test_content_key_refuses_bad_input(namespace: str, digest: str) -> None:
    with pytest.raises(InvalidInputError):
        content_key(namespace, digest)
