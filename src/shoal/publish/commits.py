"""The identity of a campaign's commit: message with Shoal's trailers, author, committer, date.

A commit's sha is a hash of its tree, parent, author, committer, dates and message. Shoal
fixes every one of them from the changeset's desired state, never from the clock: the date
from its push key (base sha, Patch, commit mode), the message and author from the spec
version that set that key (publishing a version that keeps the key keeps them too). So
pushing the same key twice gives the same sha and the second push is a no-op; a retry after
a crash cannot leave a second, different commit on the branch.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from shoal.domain.errors import InvalidInputError

__all__ = [
    "TRAILER_CAMPAIGN",
    "TRAILER_CAMPAIGN_ID",
    "CommitSpec",
    "Person",
    "add_trailers",
    "commit_identity",
    "commit_timestamp",
]

TRAILER_CAMPAIGN = "Shoal-Campaign"
TRAILER_CAMPAIGN_ID = "Shoal-Campaign-Id"

# The commit date is a function of the push key, not of the clock: a clock date would give
# every retry a new sha. 2020-01-01T00:00:00Z plus up to five years keeps the date in the
# past (GitHub and git tools warn about future dates), plausible (an epoch-0 date reads as a
# bug in every UI), and different for different commits. The first 8 hex digits of the
# key's sha256 are plenty: the date only has to be stable, not unique.
_EPOCH_2020 = 1_577_836_800
_SPREAD_S = 5 * 365 * 24 * 3600
_HASH_DIGITS = 8

_HEX = re.compile(r"^[0-9a-f]+$")
_TRAILER_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
_TRAILER_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*)\s*:")


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    email: str

    def __post_init__(self) -> None:
        # git silently strips or rejects these, which would change the sha behind our back.
        if not self.name.strip() or any(c in self.name for c in "<>\n\r\0"):
            raise InvalidInputError(f"{self.name!r} cannot be a git author name")
        if not self.email or any(c in self.email for c in "<>\n\r\0 \t"):
            raise InvalidInputError(f"{self.email!r} cannot be a git author email")


@dataclass(frozen=True, slots=True)
class CommitSpec:
    """Everything of a commit but its tree and parent. `message` is final (trailers
    included, one trailing newline); `timestamp` is seconds since the epoch, in UTC."""

    message: str
    author: Person
    committer: Person
    timestamp: int

    @property
    def git_date(self) -> str:
        return f"@{self.timestamp} +0000"

    def environment(self) -> dict[str, str]:
        """The variables `git commit-tree` takes the author, committer and dates from."""
        return {
            "GIT_AUTHOR_NAME": self.author.name,
            "GIT_AUTHOR_EMAIL": self.author.email,
            "GIT_AUTHOR_DATE": self.git_date,
            "GIT_COMMITTER_NAME": self.committer.name,
            "GIT_COMMITTER_EMAIL": self.committer.email,
            "GIT_COMMITTER_DATE": self.git_date,
        }


def commit_timestamp(digest: str) -> int:
    """The commit date for a hex digest: 2020-01-01 plus int(digest[:8], 16) seconds, modulo
    5 years."""
    digits = digest.lower()
    if len(digits) < _HASH_DIGITS or not _HEX.match(digits):
        raise InvalidInputError(f"{digest!r} is not a digest (hex digits)")
    return _EPOCH_2020 + int(digits[:_HASH_DIGITS], 16) % _SPREAD_S


def _cleanup(message: str) -> list[str]:
    """`git stripspace`: no trailing spaces, no leading, trailing or repeated blank lines.
    `git commit-tree` stores the message as given, so Shoal normalizes it itself."""
    lines: list[str] = []
    for raw in message.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.rstrip()
        if line or (lines and lines[-1]):
            lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _trailer_block_start(lines: list[str]) -> int | None:
    """Where the message's trailer block starts, if its last paragraph is one. The first
    paragraph (the subject) never is: "ci: bump checkout" is a title, not a trailer."""
    start = len(lines)
    while start > 0 and lines[start - 1]:
        start -= 1
    if start == 0:
        return None
    block = lines[start:]
    if not _TRAILER_LINE.match(block[0]):
        return None
    if all(_TRAILER_LINE.match(line) or line[0] in " \t" for line in block):
        return start
    return None


def add_trailers(message: str, trailers: Sequence[tuple[str, str]]) -> str:
    """`message` with `trailers` appended the way `git interpret-trailers` does: after a
    blank line, or at the end of the message's own trailer block. A trailer of the message
    with one of the same keys is dropped: Shoal's values are the true ones."""
    for key, value in trailers:
        if not _TRAILER_KEY.match(key) or not value.strip() or "\n" in value or "\r" in value:
            raise InvalidInputError(f"{key}: {value!r} cannot be a git trailer")
    lines = _cleanup(message)
    if not lines:
        raise InvalidInputError("the commit message is empty")
    start = _trailer_block_start(lines)
    if start is None:
        lines.append("")
    else:
        ours = {key.lower() for key, _ in trailers}
        kept, dropping = lines[:start], False
        for line in lines[start:]:
            match = _TRAILER_LINE.match(line)
            if match is not None:
                dropping = match.group(1).lower() in ours
            if not dropping:
                kept.append(line)
        lines = kept
    lines.extend(f"{key}: {value.strip()}" for key, value in trailers)
    return "\n".join(lines) + "\n"


def commit_identity(
    push_key: str,
    *,
    message: str,
    author_name: str,
    author_email: str,
    campaign_name: str,
    campaign_id: int,
) -> CommitSpec:
    """The commit a push key makes: the message with Shoal's trailers, the spec's author as
    author and committer, and a date derived from the key. No spec version or hash is in
    it: a version that changes only the PR's text keeps the commit (and its key) as it is."""
    author = Person(author_name.strip(), author_email.strip())
    text = add_trailers(
        message,
        [(TRAILER_CAMPAIGN, campaign_name), (TRAILER_CAMPAIGN_ID, str(campaign_id))],
    )
    digest = hashlib.sha256(push_key.encode()).hexdigest()
    return CommitSpec(
        message=text, author=author, committer=author, timestamp=commit_timestamp(digest)
    )
