"""The publisher's own git: `shoal.git`'s hardening, the publisher's tuning, a bare repository.

Every command runs with the options and the environment of `shoal.git` (nothing of the
machine's, the worker's or the remote's configuration steers it); only the commands that
talk to GitHub may use a network protocol, and then only http(s) without redirects, which
could carry the credential header elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from shoal import git as hardened
from shoal.git import GitError

__all__ = ["GitCommandError", "argv", "environment", "init_bare"]

_TUNING = (
    "core.abbrev=40",  # full shas in `push --porcelain`
    "advice.pushUpdateRejected=false",
)


class GitCommandError(GitError):
    """A local git step of a publish failed (not GitHub's answer: see `github.push`)."""


def init_bare(git_dir: Path) -> None:
    """An empty bare repository, written by hand: one `git init` process less per publish."""
    for sub in ("objects", "refs/heads", "refs/tags", "home"):
        (git_dir / sub).mkdir(parents=True)
    (git_dir / "HEAD").write_text("ref: refs/heads/main\n")
    (git_dir / "config").write_text("[core]\n\trepositoryformatversion = 0\n\tbare = true\n")


def environment(git_dir: Path, *, network: bool) -> dict[str, str]:
    return hardened.environment(git_dir / "home", network=network, index=git_dir / "index")


def argv(git_dir: Path, args: Sequence[str], *, network: bool) -> list[str]:
    return hardened.argv(git_dir, args, network=network, config=_TUNING)
