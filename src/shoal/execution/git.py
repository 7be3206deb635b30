"""The worker's own git, hardened against the workspace it looks at.

Steps run arbitrary code in the workspace, so nothing in it may steer the git that records
the baseline and computes the diff: the repository lives outside the workspace, and every
command runs with `shoal.git`'s hardening (no system, global or in-tree config, hooks,
fsmonitor, textconv or external diff drivers; an environment built from nothing, never the
worker's, which may carry GIT_* variables or credentials) and within the limits below.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from shoal import git as hardened
from shoal.git import GitError

__all__ = ["EMPTY_TREE", "Git", "GitError", "GitLimitError", "GitLimits", "init_repository"]

# git knows the empty tree without it being in the object database.
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

# The objects live for one execution: storing them uncompressed makes `git add` of a large
# workspace several times faster, at the cost of some temporary disk.
_TUNING = ("core.looseCompression=0",)

_STDERR_LINES = 3


class GitLimitError(GitError):
    """A git command of the worker ran past its time, memory or output limit: the
    workspace is too large to record."""

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

    def argv(self, args: Sequence[str]) -> list[str]:
        return hardened.argv(
            self.git_dir,
            args,
            work_tree=self.work_tree,
            config=_TUNING,
            memory_bytes=self.limits.memory_bytes,
        )

    def run(
        self,
        args: Sequence[str],
        *,
        stdin: bytes | None = None,
        index: Path | None = None,
        ok_codes: tuple[int, ...] = (0,),
        sink: Callable[[bytes], None] | None = None,
        max_output_bytes: int | None = hardened.MAX_OUTPUT_BYTES,
    ) -> bytes:
        """Run git to its end and return its stdout; raise GitError when it fails.

        `index`: use this index file instead of the repository's own. `sink`: stdout goes
        there chunk by chunk instead (output too large to hold in memory)."""
        timeout = self.limits.remaining(args[0])
        try:
            done = hardened.run(
                self.argv(args),
                env=hardened.environment(self.git_dir / "home", index=index),
                cwd=self.git_dir,
                stdin=stdin,
                timeout_s=timeout,
                max_output_bytes=max_output_bytes,
                sink=sink,
            )
        except TimeoutError:
            raise GitLimitError(
                f"git {args[0]} ran past the time to record the diff "
                "(SHOAL_MAX_DIFF_SECONDS) and was killed"
            ) from None
        except hardened.OutputLimitError as exc:
            raise GitLimitError(
                f"git {args[0]} printed more than {exc.limit >> 20} MiB and was killed: the "
                "change is too large to record"
            ) from None
        except OSError as exc:  # e.g. the repository directory is gone
            raise GitError(f"git {args[0]} could not start: {exc.strerror}") from None
        if done.returncode not in ok_codes:
            raise self.failure(args, done.returncode, done.stderr)
        return done.stdout

    def failure(self, args: Sequence[str], returncode: int, stderr: bytes) -> GitError:
        if _out_of_memory(stderr):
            return GitLimitError(
                f"git {args[0]} ran out of its memory limit of {self.limits.memory_bytes >> 20} "
                "MiB: the change is too large to record"
            )
        return GitError(_failure(args, returncode, stderr))


def _out_of_memory(stderr: bytes) -> bool:
    said = stderr.lower()
    return b"out of memory" in said or b"cannot allocate memory" in said


def _failure(args: Sequence[str], returncode: int, stderr: bytes) -> str:
    lines = stderr.decode("utf-8", errors="backslashreplace").strip().splitlines()
    said = "; ".join(lines[:_STDERR_LINES]) or "no message"
    return f"git {args[0]} failed with exit code {returncode}: {said}"
