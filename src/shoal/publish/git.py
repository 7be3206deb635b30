"""The publisher's own git: a hardened environment and argv, and a runner with a timeout.

Nothing of the machine's or the remote's configuration may steer this git: no system,
global or repository config but what is written here, no hooks, credential helpers or
attributes, only http(s), and no redirect that could carry the credential header elsewhere.
Every command sees only the environment built here, never the worker's (which may carry
GIT_* variables or credentials).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol

from shoal.domain.errors import ShoalError

__all__ = [
    "CommandRunner",
    "Completed",
    "GitCommandError",
    "git_argv",
    "git_environment",
    "init_bare",
    "run_command",
]

_HARDENING = (
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.fsmonitor=false",
    "-c", "core.autocrlf=false",
    "-c", "core.safecrlf=false",
    "-c", "core.symlinks=true",
    "-c", "core.ignoreCase=false",
    "-c", "core.attributesFile=/dev/null",
    "-c", "core.excludesFile=/dev/null",
    "-c", "core.quotePath=false",
    "-c", "core.abbrev=40",  # full shas in `push --porcelain`
    "-c", "credential.helper=",
    "-c", "http.followRedirects=false",
    "-c", "protocol.allow=never",
    "-c", "protocol.http.allow=always",
    "-c", "protocol.https.allow=always",
    "-c", "gc.auto=0",
    "-c", "advice.pushUpdateRejected=false",
    "-c", "color.ui=false",
)  # fmt: skip


class GitCommandError(ShoalError):
    """A local git step of a publish failed (not GitHub's answer: see `github.push`)."""

    code = "git_failed"


@dataclass(frozen=True, slots=True)
class Completed:
    returncode: int
    stdout: bytes
    stderr: bytes


class CommandRunner(Protocol):
    """Runs one command to its end; raises TimeoutError after `timeout_s`."""

    def __call__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        stdin: bytes | None,
        timeout_s: float,
    ) -> Completed: ...


def run_command(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    stdin: bytes | None,
    timeout_s: float,
) -> Completed:
    """The real runner. git runs in a session of its own, so that a timeout also ends the
    helpers it started (`git-remote-http`, `pack-objects`)."""
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    except OSError as exc:
        raise GitCommandError(f"git could not start: {exc.strerror}") from None
    with process:
        try:
            stdout, stderr = process.communicate(stdin, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):  # already gone
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise TimeoutError(f"{argv[0]} ran longer than {timeout_s:g} s") from None
    return Completed(process.returncode, stdout, stderr)


@cache
def _git_executable() -> str:
    found = shutil.which("git")
    if found is None:
        raise GitCommandError("git is not installed on this machine")
    return found


def init_bare(git_dir: Path) -> None:
    """An empty bare repository, written by hand: one `git init` process less per publish."""
    for sub in ("objects", "refs/heads", "refs/tags", "home"):
        (git_dir / sub).mkdir(parents=True)
    (git_dir / "HEAD").write_text("ref: refs/heads/main\n")
    (git_dir / "config").write_text("[core]\n\trepositoryformatversion = 0\n\tbare = true\n")


def git_environment(git_dir: Path) -> dict[str, str]:
    # Built from nothing: the worker's environment may carry GIT_* variables or credentials.
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(git_dir / "home"),  # empty: no ~/.gitconfig, no ~/.git-credentials
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_ATTR_NOSYSTEM": "1",
        "GIT_NO_REPLACE_OBJECTS": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ALLOW_PROTOCOL": "http:https",
        "GIT_INDEX_FILE": str(git_dir / "index"),
    }


def git_argv(git_dir: Path, args: Sequence[str]) -> list[str]:
    return [_git_executable(), f"--git-dir={git_dir}", *_HARDENING, *args]
