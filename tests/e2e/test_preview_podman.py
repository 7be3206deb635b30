"""The demo campaign (examples/bump-checkout-v4.yaml, as scripts/demo.sh applies it) previewed
with the podman executor: Shoal's API and a `shoal worker` process over the GitHub simulator
seeded from examples/sim-acme.yaml, each step in a container of the step image built here."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import Stack
from tests.podman_images import PODMAN_STORE, built_images, podman

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CONTAINER = re.compile(r"shoal-exec-(\d+)-step-1")


def demo_world() -> dict[str, Any]:
    """examples/sim-acme.yaml with fewer generated repositories (its hand-written ones all
    stay), so the preview takes a minute rather than the demo's few."""
    document = yaml.safe_load((EXAMPLES / "sim-acme.yaml").read_text())
    for org in document["orgs"]:
        for block in org.get("generate", []):
            block["count"] = 4
    return dict(document)


class ContainerWatch:
    """The names of the step containers podman lists while the preview runs."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            listed = podman().call("ps", "--all", "--format", "{{.Names}}")
            self.seen.update(name for name in listed.stdout.split() if CONTAINER.fullmatch(name))
            time.sleep(0.1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def test_the_demo_campaign_previews_with_podman(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    image = built_images("step")["step"]
    podman_settings = {
        "executor": "podman",
        "podman_storage_dir": PODMAN_STORE,
        "podman_step_image": image,
    }
    stack = make_stack(demo_world(), worker=False, **podman_settings)
    spec = (EXAMPLES / "bump-checkout-v4.yaml").read_text()
    name = stack.apply(spec)["campaign"]["name"]
    watch = ContainerWatch()
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-c", "from shoal.cli.main import main; main()", "worker"],
            env=stack.worker_env(execution_parallelism=2, **podman_settings),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        run = stack.wait(stack.start_preview(name)["id"], timeout_s=900)
    finally:
        watch.stop()
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)

    assert run["state"] == "done", (run, (tmp_path / "worker.log").read_text()[-3000:])
    executions = stack.executions(run["id"])
    assert len(executions) >= 10
    states = {repo: e["state"] for repo, e in executions.items()}
    assert set(states.values()) <= {"patch", "no_change"}, {
        repo: (e["state"], e["reason"], e["message"]) for repo, e in executions.items()
    }
    patched = sorted(repo for repo, state in states.items() if state == "patch")
    assert "acme/payments" in patched  # the repository scripts/demo.sh shows the diff of
    for repo in patched:
        patch = stack.get(f"/runs/{run['id']}/executions/{repo}/patch")
        removed = [line for line in patch.splitlines() if line.startswith("-") and "@v" in line]
        added = [line for line in patch.splitlines() if line.startswith("+") and "@v" in line]
        assert removed and len(removed) == len(added), patch
        assert all("actions/checkout@v3" in line for line in removed), patch
        assert all("actions/checkout@v4" in line for line in added), patch

    # Each execution's step ran in a container named after it, and none is left behind.
    ids = {int(m.group(1)) for name in watch.seen if (m := CONTAINER.fullmatch(name))}
    assert ids, "podman never listed a step container during the preview"
    assert ids <= {e["id"] for e in executions.values()}
    left = podman().call("ps", "--all", "--format", "{{.Names}}").stdout.split()
    assert not [name for name in left if CONTAINER.fullmatch(name)]
    # A preview never writes to GitHub.
    assert stack.mutations() == []
