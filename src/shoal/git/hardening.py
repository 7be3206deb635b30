"""What every git process Shoal runs is given: its argv options and its environment.

git reads configuration from the machine (`/etc/gitconfig`), the user (`~/.gitconfig`), the
repository, the environment (`GIT_CONFIG_*`, `GIT_DIR`, ...) and attribute files, and any of
them can make it run programs (hooks, fsmonitor, filters, textconv, credential helpers,
pagers) or talk to other hosts. Shoal's git looks at files a step wrote and carries an
installation token, so none of that may steer it: the environment is built from nothing, no
system or global config or attributes are read, and the options below override whatever a
repository's own config says. Only a process that talks to GitHub may use a network
protocol, and then only http(s), without following redirects (which could carry the
credential header elsewhere).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

from shoal.domain.errors import ShoalError

__all__ = [
    "HARDENING",
    "NETWORK_HARDENING",
    "GitError",
    "argv",
    "environment",
    "executable",
]

HARDENING: tuple[str, ...] = (
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
    # Shoal's repositories are its own (private temporary directories): the ownership check
    # only gets in the way when the worker's uid differs from the directory's.
    "-c", "safe.directory=*",
    "-c", "credential.helper=",
    "-c", "protocol.allow=never",
    "-c", "http.followRedirects=false",
    "-c", "gc.auto=0",
    "-c", "diff.noprefix=false",
    "-c", "diff.relative=false",
    "-c", "color.ui=false",
)  # fmt: skip

# Added for the commands that talk to GitHub (fetch, push); every other protocol stays off.
NETWORK_HARDENING: tuple[str, ...] = (
    "-c", "protocol.http.allow=always",
    "-c", "protocol.https.allow=always",
)  # fmt: skip

_NETWORK_PROTOCOLS = "http:https"


class GitError(ShoalError):
    """A git command Shoal ran failed; `message` carries the start of what git said."""

    code = "git_failed"


@cache
def executable() -> str:
    found = shutil.which("git")
    if found is None:
        raise GitError("git is not installed on this machine")
    return found


@cache
def _prlimit() -> str | None:
    return shutil.which("prlimit", path="/usr/local/bin:/usr/bin:/bin")


def environment(home: Path, *, network: bool = False, index: Path | None = None) -> dict[str, str]:
    """The whole environment of a git process, built from nothing: the worker's own may
    carry GIT_* variables or credentials. `home` must be an empty directory (no
    ~/.gitconfig, ~/.config/git/*, ~/.git-credentials); `index` replaces the repository's
    index file."""
    env = {
        # PATH only to find git's helpers (git-remote-http, pack-objects).
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(home),
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_ATTR_NOSYSTEM": "1",
        "GIT_NO_REPLACE_OBJECTS": "1",
        "GIT_TERMINAL_PROMPT": "0",
        # An empty list allows no transport at all.
        "GIT_ALLOW_PROTOCOL": _NETWORK_PROTOCOLS if network else "",
    }
    if index is not None:
        env["GIT_INDEX_FILE"] = str(index)
    return env


def argv(
    git_dir: Path,
    args: Sequence[str],
    *,
    work_tree: Path | None = None,
    network: bool = False,
    config: Iterable[str] = (),
    memory_bytes: int | None = None,
) -> list[str]:
    """The argv of one git command against `git_dir`: the hardening options, then the
    caller's own `config` (`name=value` pairs that only tune git, e.g. `core.abbrev=40`),
    then `args`. `memory_bytes` caps the process's address space (RLIMIT_AS) where
    `prlimit` is installed."""
    prlimit = _prlimit() if memory_bytes is not None else None
    # prlimit rather than setrlimit in a preexec_fn: the worker is threaded.
    limit = [prlimit, f"--as={memory_bytes}", "--"] if prlimit else []
    return [
        *limit,
        executable(),
        f"--git-dir={git_dir}",
        *([f"--work-tree={work_tree}"] if work_tree is not None else []),
        *HARDENING,
        *(NETWORK_HARDENING if network else ()),
        *(option for pair in config for option in ("-c", pair)),
        *args,
    ]
