"""Fixtures for sandbox tests: a real bubblewrap sandbox and workspaces it can mount.

pytest's own tmp dirs live under a 0700 directory that uid 65534 cannot traverse, so the
workspaces here are made under the system temp dir with a searchable (0711) parent.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shoal.executors import BwrapSandbox, ProcessSandbox


@pytest.fixture(scope="session")
def bwrap() -> BwrapSandbox:
    return BwrapSandbox(kill_grace_s=0.5)


@pytest.fixture(scope="session")
def process_sandbox() -> ProcessSandbox:
    return ProcessSandbox(kill_grace_s=0.5, allow_root=True)


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A fresh directory uid 65534 can traverse (but not list)."""
    path = Path(tempfile.mkdtemp(prefix="shoal-test-"))
    path.chmod(0o711)
    yield path
    shutil.rmtree(path)


@pytest.fixture
def workspace(scratch: Path, bwrap: BwrapSandbox) -> Path:
    path = scratch / "workspace"
    path.mkdir()
    (path / "README.md").write_text("hello\n")
    bwrap.prepare(path)
    return path


@pytest.fixture
def marker() -> str:
    return f"shoal-marker-{uuid.uuid4().hex}"


def processes_with(marker: str) -> list[int]:
    """Pids of live (non-zombie) processes whose environment holds `marker`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        if marker.encode() in environ and "\nState:\tZ" not in status:
            found.append(int(entry))
    return found
