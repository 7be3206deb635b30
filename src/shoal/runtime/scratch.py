"""Worker scratch space: one directory per worker process under the configured work dir.

Executions and publishes make their temporary directories inside it and remove them when
they finish. A worker killed with SIGKILL cannot, so each worker, when it starts, removes the
directories of worker processes that no longer exist. Directories are named by pid: a live
worker's, on this host, is never touched.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import structlog

__all__ = ["process_scratch_root", "sweep_dead_scratch"]

log = structlog.get_logger("shoal.scratch")

_WORKER_DIR = re.compile(r"^worker-(\d+)$")
# Scratch directories of releases that did not name them by process; old ones are left over.
_LEGACY_DIR = re.compile(r"^(exec|execution)-")
_LEGACY_AGE_S = 24 * 3600


def process_scratch_root(work_root: Path) -> Path:
    root = work_root / f"worker-{os.getpid()}"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _mounts_under(path: Path) -> list[Path]:
    """Mount points at or below `path` (a dead worker's workspace tmpfs), deepest first."""
    prefix = str(path.resolve())
    found: list[Path] = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        fields = line.split()
        if len(fields) > 4:
            # Field 5 is the mount point, with spaces and such octal-escaped.
            point = fields[4].encode().decode("unicode_escape")
            if point == prefix or point.startswith(prefix + "/"):
                found.append(Path(point))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def _unmount_under(path: Path) -> None:
    # A worker killed mid-execution leaves its workspace's tmpfs mounted; removing the files
    # would free its memory but leave the mount, and the directory, behind.
    for point in _mounts_under(path):
        done = subprocess.run(
            ["umount", "--lazy", str(point)], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            log.warning("scratch_unmount_failed", mount=str(point), error=done.stderr.strip())


def sweep_dead_scratch(work_root: Path, *, now: float | None = None) -> list[Path]:
    """Remove what dead workers left under `work_root`; the directories removed."""
    if not work_root.is_dir():
        return []
    now = time.time() if now is None else now
    removed: list[Path] = []
    for entry in work_root.iterdir():
        if not entry.is_dir() or entry.is_symlink():
            continue
        worker = _WORKER_DIR.match(entry.name)
        if worker is not None:
            dead = not _alive(int(worker.group(1)))
        elif _LEGACY_DIR.match(entry.name):
            dead = now - entry.stat().st_mtime > _LEGACY_AGE_S
        else:
            continue
        if dead:
            _unmount_under(entry)
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    if removed:
        log.info("scratch_swept", removed=len(removed), work_root=str(work_root))
    return removed
