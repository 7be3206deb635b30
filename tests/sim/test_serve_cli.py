"""``shoal sim serve`` as a user runs it: its admin token, its data directory and its
start-up check of GitHub's GraphQL schema."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

SEED = """
orgs:
  - login: solo
    repos: [{name: one, files: {README.md: "hi"}}]
apps:
  - slug: demo
    installations: [{org: solo}]
"""
START_TIMEOUT = 60.0  # a deadline on a loaded machine, not a speed target
PYTHON_M = (sys.executable, "-m", "shoal_sim")
# The console scripts the two distributions install next to this interpreter.
SCRIPTS = Path(sys.executable).parent


@pytest.fixture
def seed(tmp_path: Path, octokit_schemas: Path) -> Path:
    path = tmp_path / "seed.yaml"
    path.write_text(SEED)
    return path


class Lines:
    """The lines a process writes to stdout, read by a thread so a test can wait for the
    next one with a deadline (the stream's own buffer defeats ``select``)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(proc.stdout,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        with contextlib.suppress(ValueError, OSError):  # the test closed the stream
            for line in stream:
                self._queue.put(line)

    def next(self, timeout: float = START_TIMEOUT) -> str:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output within {timeout}s") from None


@contextlib.contextmanager
def serving(
    *args: str, tmp_root: Path, command: tuple[str, ...] = PYTHON_M
) -> Iterator[tuple[subprocess.Popen[str], dict[str, Any]]]:
    """``python -m shoal_sim serve ... -o json`` (or ``command serve ...``) with its temporary
    files under ``tmp_root``."""
    tmp_root.mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [*command, "serve", "--port", "0", "-o", "json", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_root)},
    )
    try:
        line = Lines(proc).next()
        assert line, proc.stderr.read() if proc.stderr else ""
        yield proc, json.loads(line)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def _stop(proc: subprocess.Popen[str], sig: signal.Signals) -> int:
    proc.send_signal(sig)
    return proc.wait(timeout=15)


def _admin_info(info: dict[str, Any], token: str) -> httpx.Response:
    return httpx.get(
        f"{info['admin_url']}/info", headers={"authorization": f"Bearer {token}"}, timeout=10
    )


def test_admin_token_is_random_per_run_unless_given(seed: Path, tmp_path: Path) -> None:
    tokens = []
    for n in range(2):
        with serving("--seed", str(seed), tmp_root=tmp_path / f"run{n}") as (proc, info):
            tokens.append(info["admin_token"])
            assert _admin_info(info, info["admin_token"]).status_code == 200
            assert _stop(proc, signal.SIGTERM) == 128 + signal.SIGTERM
    assert tokens[0] != tokens[1]
    assert all(t.startswith("simadmin_") and len(t) > 40 for t in tokens)

    with serving(
        "--seed", str(seed), "--admin-token", "my-admin-token", tmp_root=tmp_path / "given"
    ) as (proc, info):
        assert info["admin_token"] == "my-admin-token"
        assert _admin_info(info, "my-admin-token").status_code == 200
        assert _admin_info(info, tokens[0]).status_code == 401


def test_text_output_shows_the_admin_token(seed: Path, tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "shoal_sim", "serve", "--port", "0", "--seed", str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    try:
        lines: list[str] = []
        output = Lines(proc)
        while not any(line.startswith("data_dir: ") for line in lines):
            lines.append(output.next())
        token = next(line for line in lines if line.startswith("admin_token: "))
        assert token.removeprefix("admin_token: ").strip().startswith("simadmin_")
        assert _stop(proc, signal.SIGINT) == 128 + signal.SIGINT
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        assert proc.stdout is not None
        proc.stdout.close()
    assert list(tmp_path.glob("shoal-sim-*")) == []


@pytest.mark.parametrize(
    "command",
    [(str(SCRIPTS / "shoal-sim"),), (str(SCRIPTS / "shoal"), "sim")],
    ids=["shoal-sim", "shoal-sim-via-shoal"],
)
def test_console_scripts_serve(seed: Path, tmp_path: Path, command: tuple[str, ...]) -> None:
    with serving("--seed", str(seed), tmp_root=tmp_path / "tmp", command=command) as (proc, info):
        assert _admin_info(info, info["admin_token"]).status_code == 200
        assert _stop(proc, signal.SIGTERM) == 128 + signal.SIGTERM


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_temporary_data_directory_is_removed_on_exit(
    seed: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    tmp_root = tmp_path / "tmp"
    with serving("--seed", str(seed), tmp_root=tmp_root) as (proc, info):
        data_dir = Path(info["data_dir"])
        assert data_dir.parent == tmp_root.resolve()
        assert Path(info["private_key_path"]).is_relative_to(data_dir)
        assert data_dir.is_dir() and any(data_dir.iterdir())
        assert _stop(proc, sig) == 128 + sig
    assert not data_dir.exists()
    assert list(tmp_root.iterdir()) == []


def test_given_data_directory_is_kept(seed: Path, tmp_path: Path) -> None:
    given = tmp_path / "data"
    with serving("--seed", str(seed), "--data-dir", str(given), tmp_root=tmp_path / "tmp") as (
        proc,
        info,
    ):
        assert Path(info["data_dir"]) == given.resolve()
        assert _stop(proc, signal.SIGTERM) == 128 + signal.SIGTERM
    assert given.is_dir() and any(given.iterdir())


def test_missing_graphql_schema_stops_start_up(seed: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "schema.json"
    done = subprocess.run(
        [sys.executable, "-m", "shoal_sim", "serve", "--port", "0", "--seed", str(seed)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "SHOAL_SIM_GRAPHQL_SCHEMA": str(missing), "TMPDIR": str(tmp_path)},
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == ""  # no URL announced
    assert str(missing) in done.stderr
    assert "bash scripts/fetch-github-schemas.sh" in done.stderr
    assert "SHOAL_SIM_GRAPHQL_SCHEMA" in done.stderr
    assert "Traceback" not in done.stderr
    assert list(tmp_path.glob("shoal-sim-*")) == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "orgs:\n  - login: a\n    teams: [{slug: t, repos: {nope: write}}]\n",
            "refers to a/nope, which it does not create",
        ),
        (
            'orgs:\n  - login: a\n    teams: [{slug: t, repos: {"*": owner}}]\n',
            "orgs.0.teams.0.repos.*: Input should be 'read'",
        ),
        ("orgs: [\n", "is not valid YAML"),
        (None, "cannot read the seed file"),
    ],
    ids=["unknown-repo", "bad-permission", "bad-yaml", "missing"],
)
def test_bad_seed_is_reported_without_a_traceback(
    tmp_path: Path, octokit_schemas: Path, content: str | None, expected: str
) -> None:
    seed = tmp_path / "seed.yaml"
    if content is not None:
        seed.write_text(content)
    done = subprocess.run(
        [sys.executable, "-m", "shoal_sim", "serve", "--port", "0", "--seed", str(seed)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("error: ")
    assert str(seed) in done.stderr and expected in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert list(tmp_path.glob("shoal-sim-*")) == []
