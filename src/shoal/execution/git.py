"""The worker's own git, hardened against the workspace it looks at.

Steps run arbitrary code in the workspace, so nothing in it may steer the git that records
the baseline and computes the diff: the repository lives outside the workspace, no system,
global or in-tree config is read, hooks, fsmonitor, textconv and external diff drivers are
off, and git sees only the environment built here (never the worker's, which may carry
GIT_* variables or credentials).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import IO

from shoal.domain.errors import ShoalError

__all__ = ["EMPTY_TREE", "Git", "GitError", "init_repository"]

# git knows the empty tree without it being in the object database.
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

_HARDENING = (
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.fsmonitor=false",
    "-c", "core.untrackedCache=false",
    "-c", "core.quotePath=false",
    "-c", "core.autocrlf=false",
    "-c", "core.safecrlf=false",
    "-c", "core.symlinks=true",
    "-c", "core.ignoreCase=false",
    "-c", "core.excludesFile=/dev/null",
    "-c", "core.attributesFile=/dev/null",
    "-c", "safe.directory=*",
    "-c", "gc.auto=0",
    # The objects live for one execution: storing them uncompressed makes `git add` of a
    # large workspace several times faster, at the cost of some temporary disk.
    "-c", "core.looseCompression=0",
    "-c", "diff.noprefix=false",
    "-c", "diff.relative=false",
    "-c", "color.ui=false",
)  # fmt: skip

_STDERR_LINES = 3


class GitError(ShoalError):
    """A git command of the worker failed; `message` carries the start of git's stderr."""

    code = "git_failed"


@cache
def _git_executable() -> str:
    found = shutil.which("git")
    if found is None:
        raise GitError("git is not installed on this machine")
    return found


def init_repository(git_dir: Path) -> None:
    """Create an empty repository by hand: one `git init` process less per execution."""
    git_dir.mkdir(mode=0o700)
    for sub in ("objects", "refs/heads", "refs/tags", "home"):
        (git_dir / sub).mkdir(parents=True)
    (git_dir / "HEAD").write_text("ref: refs/heads/main\n")
    (git_dir / "config").write_text(
        "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n"
    )


class Git:
    """git commands against one repository (`git_dir`) and one work tree (the workspace)."""

    def __init__(self, git_dir: Path, work_tree: Path) -> None:
        self.git_dir = git_dir
        self.work_tree = work_tree
        self._env = {
            # PATH only to find git's helpers; everything else is set, not inherited.
            "PATH": os.environ.get("PATH", os.defpath),
            "HOME": str(git_dir / "home"),  # empty: no ~/.gitconfig, ~/.config/git/*
            "LC_ALL": "C",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_ATTR_NOSYSTEM": "1",
            "GIT_NO_REPLACE_OBJECTS": "1",
            "GIT_TERMINAL_PROMPT": "0",
        }

    def argv(self, args: Sequence[str]) -> list[str]:
        return [
            _git_executable(),
            f"--git-dir={self.git_dir}",
            f"--work-tree={self.work_tree}",
            *_HARDENING,
            *args,
        ]

    def run(self, args: Sequence[str], *, stdin: bytes | None = None) -> bytes:
        """Run git to its end and return its stdout; raise GitError when it fails."""
        try:
            done = subprocess.run(
                self.argv(args),
                input=stdin,
                capture_output=True,
                env=self._env,
                cwd=self.git_dir,
                check=False,
            )
        except OSError as exc:  # e.g. the repository directory is gone
            raise GitError(f"git {args[0]} could not start: {exc.strerror}") from None
        if done.returncode != 0:
            raise GitError(_failure(args, done.returncode, done.stderr))
        return done.stdout

    def start(self, args: Sequence[str], *, stderr: IO[bytes]) -> subprocess.Popen[bytes]:
        """Start git with its stdout on a pipe, for output too large to hold in memory."""
        try:
            return subprocess.Popen(
                self.argv(args),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=self._env,
                cwd=self.git_dir,
            )
        except OSError as exc:
            raise GitError(f"git {args[0]} could not start: {exc.strerror}") from None

    @staticmethod
    def failure(args: Sequence[str], returncode: int, stderr: bytes) -> GitError:
        return GitError(_failure(args, returncode, stderr))


def _failure(args: Sequence[str], returncode: int, stderr: bytes) -> str:
    lines = stderr.decode("utf-8", errors="backslashreplace").strip().splitlines()
    said = "; ".join(lines[:_STDERR_LINES]) or "no message"
    return f"git {args[0]} failed with exit code {returncode}: {said}"
