"""The Kubernetes API double, started per test, and an official client configured for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client as k8s

from tests.k8s.pods import PodRunner
from tests.k8s.server import FakeKubernetes


@pytest.fixture
def fake_kubernetes(tmp_path: Path) -> Iterator[FakeKubernetes]:
    fake = FakeKubernetes().start()
    runner = PodRunner(fake, tmp_path / "nodes")
    try:
        yield fake
    finally:
        fake.stop()
        runner.join(10)


@pytest.fixture
def api_client(fake_kubernetes: FakeKubernetes) -> Iterator[k8s.ApiClient]:
    configuration = k8s.Configuration(host=fake_kubernetes.url)
    configuration.api_key["authorization"] = f"Bearer {fake_kubernetes.token}"
    client = k8s.ApiClient(configuration)
    try:
        yield client
    finally:
        client.close()
