"""The podman executor: `PodmanExecutor`, its `PodmanSandbox` and `Podman` (the configured
command line).

`python -m shoal.executors.podman --storage-dir DIR -- ARGS...` runs podman with the same
configuration the sandbox uses (scripts/build-images.sh builds images with it).
"""

from shoal.executors.podman.engine import Podman
from shoal.executors.podman.executor import PodmanExecutor
from shoal.executors.podman.sandbox import PodmanSandbox

__all__ = ["Podman", "PodmanExecutor", "PodmanSandbox"]
