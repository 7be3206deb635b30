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
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO

from shoal.domain.errors import ShoalError

__all__ = ["EMPTY_TREE", "Git", "GitError", "GitLimitError", "GitLimits", "init_repository"]

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


class GitLimitError(GitError):
    """git ran past its time or memory limit: the workspace is too large to record."""

    code = "git_limit"


@dataclass(frozen=True, slots=True)
class GitLimits:
    """What the worker's git may use on a workspace a step wrote.

    git runs as the worker, outside the step sandbox, on files a step chose: without these
    a few sparse or huge files hold the worker for minutes and gigabytes.
    """

    memory_bytes: int = 4 << 30  # RLIMIT_AS of each git process
    deadline: float | None = None  # time.monotonic() by which all git work must be done

    @classmethod
    def within(cls, seconds: float, memory_bytes: int) -> GitLimits:
        return cls(memory_bytes=memory_bytes, deadline=time.monotonic() + seconds)

    def remaining(self, what: str) -> float | None:
        if self.deadline is None:
            return None
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise GitLimitError(
                f"git {what} did not start: the time to record the diff ran out "
                "(SHOAL_MAX_DIFF_SECONDS)"
            )
        return left


@cache
def _git_executable() -> str:
    found = shutil.which("git")
    if found is None:
        raise GitError("git is not installed on this machine")
    return found


@cache
def _prlimit_executable() -> str | None:
    return shutil.which("prlimit", path="/usr/local/bin:/usr/bin:/bin")


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

    def __init__(self, git_dir: Path, work_tree: Path, limits: GitLimits | None = None) -> None:
        self.git_dir = git_dir
        self.work_tree = work_tree
        self.limits = limits or GitLimits()
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
        prlimit = _prlimit_executable()
        # prlimit rather than setrlimit in a preexec_fn: the worker is threaded.
        limit = [prlimit, f"--as={self.limits.memory_bytes}", "--"] if prlimit else []
        return [
            *limit,
            _git_executable(),
            f"--git-dir={self.git_dir}",
            f"--work-tree={self.work_tree}",
            *_HARDENING,
            *args,
        ]

    def run(
        self,
        args: Sequence[str],
        *,
        stdin: bytes | None = None,
        index: Path | None = None,
        ok_codes: tuple[int, ...] = (0,),
    ) -> bytes:
        """Run git to its end and return its stdout; raise GitError when it fails.

        `index`: use this index file instead of the repository's own."""
        timeout = self.limits.remaining(args[0])
        try:
            done = subprocess.run(
                self.argv(args),
                input=stdin,
                capture_output=True,
                env={**self._env, "GIT_INDEX_FILE": str(index)} if index else self._env,
                cwd=self.git_dir,
                check=False,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise GitLimitError(f"git {args[0]} {self._ran_out()}") from None
        except OSError as exc:  # e.g. the repository directory is gone
            raise GitError(f"git {args[0]} could not start: {exc.strerror}") from None
        if done.returncode not in ok_codes:
            raise self.failure(args, done.returncode, done.stderr)
        return done.stdout

    def _ran_out(self) -> str:
        return "ran past the time to record the diff (SHOAL_MAX_DIFF_SECONDS) and was killed"

    def start(self, args: Sequence[str], *, stderr: IO[bytes]) -> _Started:
        """Start git with its stdout on a pipe, for output too large to hold in memory.

        Use it as a context manager: at the deadline the process is killed and, on the way
        out, `GitLimitError` is raised.
        """
        timeout = self.limits.remaining(args[0])
        try:
            process = subprocess.Popen(
                self.argv(args),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=self._env,
                cwd=self.git_dir,
            )
        except OSError as exc:
            raise GitError(f"git {args[0]} could not start: {exc.strerror}") from None
        return _Started(process, timeout, f"git {args[0]} {self._ran_out()}")

    def failure(self, args: Sequence[str], returncode: int, stderr: bytes) -> GitError:
        if _out_of_memory(stderr):
            return GitLimitError(
                f"git {args[0]} ran out of its memory limit of {self.limits.memory_bytes >> 20} "
                "MiB: the change is too large to record"
            )
        return GitError(_failure(args, returncode, stderr))


class _Started:
    """A started git process with a watchdog that kills it at the deadline."""

    def __init__(self, process: subprocess.Popen[bytes], timeout: float | None, why: str) -> None:
        self.process = process
        self._why = why
        self._timer = threading.Timer(timeout, self._expire) if timeout is not None else None
        self._expired = False
        if self._timer is not None:
            self._timer.daemon = True
            self._timer.start()

    def _expire(self) -> None:
        self._expired = True
        self.process.kill()

    def __enter__(self) -> subprocess.Popen[bytes]:
        return self.process

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if exc_type is not None:
            self.process.kill()
        self.process.__exit__(None, None, None)  # closes the pipe, waits for the process
        if self._expired:
            raise GitLimitError(self._why)


def _out_of_memory(stderr: bytes) -> bool:
    said = stderr.lower()
    return b"out of memory" in said or b"cannot allocate memory" in said


def _failure(args: Sequence[str], returncode: int, stderr: bytes) -> str:
    lines = stderr.decode("utf-8", errors="backslashreplace").strip().splitlines()
    said = "; ".join(lines[:_STDERR_LINES]) or "no message"
    return f"git {args[0]} failed with exit code {returncode}: {said}"
