"""The podman executor's parts: `Podman` (the configured command line) and `PodmanSandbox`.

`python -m shoal.executors.podman --storage-dir DIR -- ARGS...` runs podman with the same
configuration the sandbox uses (scripts/build-images.sh builds images with it).
"""

from shoal.executors.podman.engine import Podman
from shoal.executors.podman.sandbox import PodmanSandbox

__all__ = ["Podman", "PodmanSandbox"]
