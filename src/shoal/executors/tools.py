"""Finding the system tools the sandboxes drive (bwrap, setpriv, prlimit)."""

from __future__ import annotations

import shutil

from shoal.executors.sandbox import DEFAULT_PATH, SandboxUnavailableError

__all__ = ["find_tool"]


def find_tool(name: str, *, package: str) -> str:
    """The absolute path of `name` on the system PATH (not the worker's, which may be anything)."""
    path = shutil.which(name, path=DEFAULT_PATH)
    if path is None:
        raise SandboxUnavailableError(
            f"{name} is not installed, so steps cannot be sandboxed: apt-get install {package}",
            details={"tool": name, "package": package},
        )
    return path
