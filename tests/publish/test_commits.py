"""Commit identity: dates from the push key, trailers as `git interpret-trailers` adds them,
and the same commit sha from the same inputs with the real git."""

from __future__ import annotations

import hashlib
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shoal.domain.errors import InvalidInputError
from shoal.publish import CommitSpec, Person, add_trailers, commit_identity, commit_timestamp

DIGEST = "3f2a9c" + "0" * 58
PUSH_KEY = f"{'a' * 40}:{'b' * 64}:git"
TRAILERS = [("Shoal-Campaign", "bump-checkout"), ("Shoal-Campaign-Id", "12")]
_GIT_ENV = {
    "PATH": os.defpath,
    "HOME": "/nonexistent",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "LC_ALL": "C",
}


def git(cwd: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**_GIT_ENV, **(env or {})},
        input=stdin.encode(),
        capture_output=True,
        check=True,
        timeout=60,
    )
    return done.stdout.decode()


def identity(**changes: object) -> CommitSpec:
    fields: dict[str, object] = {
        "message": "ci: bump actions/checkout to v4",
        "author_name": "Shoal",
        "author_email": "shoal@acme.dev",
        "campaign_name": "bump-checkout",
        "campaign_id": 12,
    }
    fields.update(changes)
    push_key = str(fields.pop("push_key", PUSH_KEY))
    return commit_identity(push_key, **fields)  # type: ignore[arg-type]


def test_the_date_comes_from_a_digest_and_stays_between_2020_and_2025() -> None:
    assert commit_timestamp("0" * 64) == int(datetime(2020, 1, 1, tzinfo=UTC).timestamp())
    assert commit_timestamp(DIGEST) == commit_timestamp(DIGEST.upper())
    assert commit_timestamp(DIGEST) != commit_timestamp("3f2a9d" + "0" * 58)
    latest = datetime.fromtimestamp(commit_timestamp("f" * 64), UTC)
    assert datetime(2020, 1, 1, tzinfo=UTC) < latest < datetime(2025, 1, 1, tzinfo=UTC)
    # Only the first 8 digits count: the rest of the hash never moves the date.
    assert commit_timestamp("12345678" + "a" * 56) == commit_timestamp("12345678" + "b" * 56)


@pytest.mark.parametrize("digest", ["", "abc", "xyz12345", "1234 5678"])
def test_a_digest_must_be_hex(digest: str) -> None:
    with pytest.raises(InvalidInputError, match="not a digest"):
        commit_timestamp(digest)


@pytest.mark.parametrize(
    "message",
    [
        "ci: bump actions/checkout to v4",
        "Bump checkout\n\nThe v3 action runs on Node 16, which is end of life.\n",
        "Bump checkout\n\nWhy.\n\nSigned-off-by: Alice <alice@example.com>\n",
        "Bump checkout\n\nRefs: #12\nSee-also: the\n  long explanation\n",
        "  \n\nBump checkout   \n\n\n\nbody line   \n\n\n",
        "Bump checkout\r\n\r\nwindows line endings\r\n",
        "Bump checkout\n\nNote: this is prose, not a trailer block\nbecause this line is not one",
    ],
    ids=[
        "subject-only",
        "subject-and-body",
        "existing-trailer-block",
        "folded-trailer",
        "untidy-whitespace",
        "crlf",
        "prose-with-colon",
    ],
)
def test_trailers_are_added_as_git_interpret_trailers_does(message: str, tmp_path: Path) -> None:
    # git stripspace, then git interpret-trailers: what `git commit --trailer` would store.
    tidy = git(tmp_path, "stripspace", stdin=message.replace("\r\n", "\n"))
    args = [arg for key, value in TRAILERS for arg in ("--trailer", f"{key}: {value}")]
    expected = git(tmp_path, "interpret-trailers", *args, stdin=tidy)
    assert add_trailers(message, TRAILERS) == expected


def test_shoal_trailers_in_the_message_are_replaced_by_the_true_ones() -> None:
    message = "Bump\n\nShoal-Campaign-Id: 999\n  continued\nSigned-off-by: A <a@example.com>\n"
    assert add_trailers(message, TRAILERS) == (
        "Bump\n\nSigned-off-by: A <a@example.com>\n"
        "Shoal-Campaign: bump-checkout\nShoal-Campaign-Id: 12\n"
    )


@pytest.mark.parametrize(
    ("message", "trailers", "problem"),
    [
        ("", TRAILERS, "message is empty"),
        (" \n\n \t\n", TRAILERS, "message is empty"),
        ("ok", [("Shoal-Campaign", "two\nlines")], "cannot be a git trailer"),
        ("ok", [("Bad Key", "x")], "cannot be a git trailer"),
        ("ok", [("Shoal-Campaign", "  ")], "cannot be a git trailer"),
    ],
    ids=["empty", "blank", "multi-line-value", "key-with-space", "blank-value"],
)
def test_unusable_messages_and_trailers_are_refused(
    message: str, trailers: list[tuple[str, str]], problem: str
) -> None:
    with pytest.raises(InvalidInputError, match=problem):
        add_trailers(message, trailers)


@pytest.mark.parametrize(
    ("name", "email"),
    [("", "a@b.c"), ("Evil <x@y>", "a@b.c"), ("Two\nLines", "a@b.c"), ("A", "a <b@c>"), ("A", "")],
    ids=["blank-name", "angle-name", "newline-name", "angle-email", "blank-email"],
)
def test_people_git_would_rewrite_are_refused(name: str, email: str) -> None:
    with pytest.raises(InvalidInputError):
        Person(name, email)


def test_commit_identity_comes_from_the_push_key_and_the_message() -> None:
    spec = identity()
    assert spec == identity()  # a pure function of its inputs
    assert spec.message == (
        "ci: bump actions/checkout to v4\n\nShoal-Campaign: bump-checkout\nShoal-Campaign-Id: 12\n"
    )
    assert spec.author == spec.committer == Person("Shoal", "shoal@acme.dev")
    assert spec.timestamp == commit_timestamp(hashlib.sha256(PUSH_KEY.encode()).hexdigest())
    env = spec.environment()
    assert env["GIT_AUTHOR_DATE"] == env["GIT_COMMITTER_DATE"] == f"@{spec.timestamp} +0000"
    assert identity(push_key=f"{'a' * 40}:{'b' * 64}:api").timestamp != spec.timestamp
    # No spec version or hash in the commit: a new version keeps it when its key is the same.
    assert "Spec" not in spec.message


def _commit_in(directory: Path, spec: CommitSpec) -> str:
    directory.mkdir()
    git(directory, "init", "--quiet", "--bare")
    blob = git(directory, "hash-object", "-w", "--stdin", stdin="FROM python:3.12-slim\n").strip()
    tree = git(directory, "mktree", stdin=f"100644 blob {blob}\tDockerfile\n").strip()
    return git(directory, "commit-tree", tree, stdin=spec.message, env=spec.environment()).strip()


def test_the_same_identity_gives_the_same_commit_sha_with_real_git(tmp_path: Path) -> None:
    first = _commit_in(tmp_path / "one", identity())
    assert first == _commit_in(tmp_path / "two", identity())
    assert first != _commit_in(tmp_path / "three", identity(push_key=f"{'f' * 40}:{'b' * 64}:git"))
    shown = git(tmp_path / "one", "cat-file", "-p", first)
    when = identity().timestamp
    assert f"author Shoal <shoal@acme.dev> {when} +0000" in shown
    assert f"committer Shoal <shoal@acme.dev> {when} +0000" in shown
    assert shown.endswith("Shoal-Campaign-Id: 12\n")
