"""A real podman sandbox over the default step image, which is built here if missing."""

from __future__ import annotations

import pytest

from shoal.executors.podman import PodmanSandbox
from tests.podman_images import built_images, podman


@pytest.fixture(scope="session")
def step_image() -> str:
    return built_images("step")["step"]


@pytest.fixture(scope="session")
def podman_sandbox(step_image: str) -> PodmanSandbox:
    return PodmanSandbox(podman(), default_image=step_image, kill_grace_s=0.5)
