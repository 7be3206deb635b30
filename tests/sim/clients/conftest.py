"""Fixtures for driving the simulator with unmodified third-party clients."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
JS_DIR = Path(__file__).resolve().parent / "js"


@pytest.fixture(scope="session")
def js_clients() -> Path:
    """The npm clients in ``js/``, installed from the committed lock file."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("node and npm are required (scripts/bootstrap.sh installs them)")
    subprocess.run(["bash", str(ROOT / "scripts/install-js-test-deps.sh")], check=True, timeout=300)
    return JS_DIR
