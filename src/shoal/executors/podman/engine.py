"""`Podman`: the podman command line, configured by Shoal alone.

Every podman call Shoal makes (steps, image builds, cleanup) goes through here, so all of them
see one image store and one set of engine settings whatever the machine's own
/etc/containers holds: CONTAINERS_CONF names the packaged `containers.conf`,
CONTAINERS_STORAGE_CONF a `storage.conf` written next to the image store, and the store's
paths are given as flags too.

Layout: the images and container layers live in `<storage_dir>/storage` (kept across
restarts); podman's run state lives under /run (a tmpfs on most hosts, so a reboot clears
stale container state, as podman expects).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from shoal.executors.sandbox import DEFAULT_PATH, SandboxUnavailableError
from shoal.executors.tools import find_tool

__all__ = ["Podman"]

_STORAGE_DRIVER = "overlay"


@dataclass(frozen=True, slots=True)
class Podman:
    binary: str
    storage_dir: Path
    run_dir: Path

    @classmethod
    def at(cls, storage_dir: Path) -> Podman:
        """Podman with its image store in `storage_dir`; root only (see docs/executors.md)."""
        if os.geteuid() != 0:
            raise SandboxUnavailableError(
                "the podman executor runs podman as root (rootful), so that each step's uid, "
                "cgroup and mounts are the kernel's own: run the worker as root"
            )
        binary = find_tool("podman", package="podman")
        storage_dir = storage_dir.resolve()
        digest = hashlib.sha256(str(storage_dir).encode()).hexdigest()[:12]
        podman = cls(binary, storage_dir, Path("/run") / f"shoal-podman-{digest}")
        for path in (podman.graph_root, podman.run_dir, podman.run_root, podman.tmp_dir):
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        conf = podman.storage_conf
        text = (
            "[storage]\n"
            f'driver = "{_STORAGE_DRIVER}"\n'
            f'graphroot = "{podman.graph_root}"\n'
            f'runroot = "{podman.run_root}"\n'
        )
        if not conf.exists() or conf.read_text() != text:
            conf.write_text(text)
        return podman

    @property
    def graph_root(self) -> Path:
        return self.storage_dir / "storage"

    @property
    def storage_conf(self) -> Path:
        return self.storage_dir / "storage.conf"

    @property
    def run_root(self) -> Path:
        return self.run_dir / "run"

    @property
    def tmp_dir(self) -> Path:
        return self.run_dir / "libpod"

    def argv(self, *args: str) -> list[str]:
        return [
            self.binary,
            "--root",
            str(self.graph_root),
            "--runroot",
            str(self.run_root),
            "--tmpdir",
            str(self.tmp_dir),
            "--storage-driver",
            _STORAGE_DRIVER,
            *args,
        ]

    def env(self) -> dict[str, str]:
        """podman's whole environment: nothing of the worker's (that holds its credentials)."""
        conf = resources.files("shoal.executors.podman").joinpath("containers.conf")
        return {
            "PATH": DEFAULT_PATH,
            "LANG": "C.UTF-8",
            "HOME": str(self.run_dir),
            "CONTAINERS_CONF": str(conf),
            "CONTAINERS_STORAGE_CONF": str(self.storage_conf),
            # No registry is consulted: images are local (`--pull never`) or built here.
            "CONTAINERS_REGISTRIES_CONF": os.devnull,
        }

    def call(self, *args: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run a short podman command to its end; output captured, never raised on."""
        try:
            return subprocess.run(
                self.argv(*args),
                env=self.env(),
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise SandboxUnavailableError(
                f"podman {args[0] if args else ''} did not answer within {timeout_s:.0f}s"
            ) from None
