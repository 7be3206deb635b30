"""The podman image store the tests use, and Shoal's images built into it for real.

Images are built by scripts/build-images.sh, the script the docs name, into a store under
.cache/podman (kept between runs: the script builds only what changed, and the debootstrap
base once per machine). Tests that need an image build it here rather than skip.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

from shoal.executors.podman import Podman

__all__ = ["PODMAN_BUILD_TIMEOUT_S", "PODMAN_STORE", "built_images", "podman"]

ROOT = Path(__file__).resolve().parents[1]
PODMAN_STORE = Path(os.environ.get("SHOAL_TEST_PODMAN_STORAGE_DIR", ROOT / ".cache" / "podman"))
PODMAN_BUILD_TIMEOUT_S = 1500  # debootstrap, then both images, on a new machine


@functools.cache
def podman() -> Podman:
    return Podman.at(PODMAN_STORE)


@functools.cache
def built_images(*names: str) -> dict[str, str]:
    """{name: reference} of `names` ("step", "shoal"): built if missing (idempotent; a flock
    in the script serializes builds from several test processes)."""
    script = ROOT / "scripts" / "build-images.sh"
    done = subprocess.run(
        ["bash", str(script), "--storage-dir", str(PODMAN_STORE), *names],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=PODMAN_BUILD_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, f"build-images.sh failed:\n{done.stderr[-4000:]}"
    return dict(line.split("=", 1) for line in done.stdout.split())
