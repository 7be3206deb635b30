"""The README's first command, run as a newcomer runs it: `bash scripts/demo.sh` in a fresh
clone of this repository, with nothing in `.cache/`, no `var/`, no login and none of the
settings or downloads the rest of the test suite uses.

The clone holds what is committed (HEAD), as a newcomer's clone would. The demo checks
itself (no GitHub write during the preview, none on a second publish, the audit log equal to
the simulator's mutation ledger) and exits non-zero when a check fails; this test asserts it
ran to the end and that those checks printed what they found.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]

# Settings the suite or a developer's shell may carry, that a newcomer would not have.
_NEWCOMER_DROPS = ("SHOAL_", "VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTEST_", "COV_")


@pytest.fixture
def newcomer_dir() -> Iterator[Path]:
    """A directory outside pytest's private (0700) temporary root: as root, the embedded
    PostgreSQL runs its binaries from the clone's virtualenv as an unprivileged user, who must
    be able to reach them for as long as the demo runs (pytest sessions running beside this one
    reset their root's mode)."""
    made = Path(tempfile.mkdtemp(prefix="shoal-newcomer-"))
    made.chmod(0o755)
    try:
        yield made
    finally:
        shutil.rmtree(made, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.timeout(1200)  # a clone, a virtualenv and the demo itself (about 2 minutes idle)
def test_the_readme_demo_runs_from_a_fresh_clone(newcomer_dir: Path) -> None:
    tmp_path = newcomer_dir
    clone = tmp_path / "shoal"
    subprocess.run(
        ["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)],
        check=True,
        timeout=120,
    )
    assert not (clone / ".cache").exists() and not (clone / "var").exists()
    env = {k: v for k, v in os.environ.items() if not k.startswith(_NEWCOMER_DROPS)}
    env |= {
        "SHOAL_API_PORT": str(free_port()),
        # A home of its own for what the demo's processes keep per user.
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_DATA_HOME": str(tmp_path / "share"),
        "CI": "true",
    }
    started = time.monotonic()
    done = subprocess.run(
        ["bash", "scripts/demo.sh"],
        cwd=clone,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    seconds = time.monotonic() - started
    out = done.stdout
    assert done.returncode == 0, (
        f"demo failed after {seconds:.0f}s:\n{out[-6000:]}\n{done.stderr[-4000:]}"
    )
    # GitHub's GraphQL schema came with the demo's own set-up.
    assert (clone / ".cache/octokit/node_modules/@octokit/graphql-schema/schema.json").is_file()
    assert "mutations recorded by the simulator: 0" in out
    assert " 0 failed" in out and "with a patch" in out
    assert "wait for a later day" in out
    counts = [line for line in out.splitlines() if line.startswith("simulator mutations before")]
    assert len(counts) == 1
    before, after = (part.split(":")[1].strip() for part in counts[0].split(","))
    assert before == after and int(before) > 0
    assert "the audit log matches the simulator's ledger" in out
    assert "audit chain intact" in out
    for field in ("title", "labels", "reviewers", "assignees", "draft", "body"):
        assert f"\n  {field:<10} " in out
    # Nothing of the demo keeps running.
    leftover = subprocess.run(
        ["pgrep", "-f", str(clone)], capture_output=True, text=True, check=False
    ).stdout.split()
    assert leftover == [], f"processes left running: {leftover}"
