"""Start-up: `shoal --help`, `shoal status` against a running `shoal up`, and `shoal up` until
it is ready, on embedded defaults.

Prints `help_s`, `status_s`, `up_ready_s` (on an existing data dir), `up_first_ready_s` (on an
empty one) and `create_token_s` (`shoal admin create-token` beside the running instance), and
writes them to bench/results/cli.json.

    uv run python bench/cli.py [--runs 7] [--up-runs 5] [--calm 0.5]

Everything lives in a temp dir that is removed afterwards: the data dir (embedded PostgreSQL
and Redis, filesystem object store), the CLI's login, the registry of running instances.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py is named like the standard library's `queue`, which psycopg imports: keep
# this script's folder off the import path so it gets the real one.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
# ...and at the end of it, where `harness` (the benchmarks' shared module) is still found.
sys.path.append(str(Path(__file__).resolve().parent))

import argparse
import json
import os
import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import psutil

from harness import free_port, note, stop_process, write_figures

RESULTS = Path(__file__).resolve().parent / "results" / "cli.json"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "bump-checkout-v4.yaml"
CAMPAIGN = "bump-checkout-v4"
READY_TIMEOUT_S = 180.0
# How long a sample waits for the machine to calm down before it is taken anyway.
CALM_WAIT_S = 30.0


def _shoal() -> list[str]:
    """The `shoal` command as a user runs it: the virtualenv's console script."""
    script = Path(sys.executable).with_name("shoal")
    return [str(script)] if script.exists() else [sys.executable, "-m", "shoal"]


@dataclass(frozen=True)
class Sample:
    wall_s: float
    cpu_s: float  # the command's own user + system time
    busy_before: float  # share of the machine's CPU in use the second before


def _busy_share(interval: float = 1.0) -> float:
    return float(psutil.cpu_percent(interval=interval)) / 100


def _wait_for_calm(calm: float | None) -> float:
    """The machine's busy share over the last second, once it is below `calm` (or after
    CALM_WAIT_S, whichever comes first): other sessions share this machine's two cores."""
    deadline = time.monotonic() + CALM_WAIT_S
    while True:
        busy = _busy_share()
        if calm is None or busy <= calm or time.monotonic() > deadline:
            return busy


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_command(env: dict[str, str], args: list[str], calm: float | None) -> tuple[Sample, str]:
    """The command's timing and its standard output."""
    busy = _wait_for_calm(calm)
    cpu_before = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(
        [*_shoal(), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"shoal {' '.join(args)} failed: {done.stderr[-2000:]}")
    return Sample(wall, _children_cpu() - cpu_before, busy), done.stdout


class Up:
    """`shoal up` as its own process, timed from its start until `/readyz` answers 200."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.url = f"http://127.0.0.1:{env['SHOAL_API_PORT']}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, calm: float | None) -> Sample:
        busy = _wait_for_calm(calm)
        with self.log.open("a") as log:
            started = time.perf_counter()
            self.process = subprocess.Popen([*_shoal(), "up"], env=self.env, stdout=log, stderr=log)
        process = psutil.Process(self.process.pid)
        # The port is bound before anything else starts, so a request sent early waits in the
        # listen queue and is answered as soon as the server can: the timeout is generous.
        with httpx.Client(timeout=READY_TIMEOUT_S) as http:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"shoal up exited; see {self.log}")
                if time.perf_counter() - started > READY_TIMEOUT_S:
                    raise RuntimeError(f"shoal up was not ready in time; see {self.log}")
                try:
                    if http.get(f"{self.url}/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.01)
        wall = time.perf_counter() - started
        cpu = process.cpu_times()
        return Sample(wall, cpu.user + cpu.system, busy)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            if self.process.returncode != 0:
                raise RuntimeError(f"shoal up stopped with {self.process.returncode}")
            self.process = None


def _repeat(runs: int, take: Callable[[], tuple[Sample, str]]) -> list[Sample]:
    return [take()[0] for _ in range(runs)]


def measure(tmp: Path, runs: int, up_runs: int, calm: float | None) -> dict[str, list[Sample]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env |= {
        "SHOAL_DATA_DIR": str(tmp / "data"),
        "SHOAL_WORK_DIR": str(tmp / "work"),
        "SHOAL_API_PORT": str(free_port()),
        "SHOAL_LOG_FORMAT": "json",
        "XDG_CONFIG_HOME": str(tmp / "config"),
        "XDG_STATE_HOME": str(tmp / "state"),
        "COLUMNS": "120",
    }
    up = Up(env, tmp / "up.log")
    samples: dict[str, list[Sample]] = {}
    try:
        note("shoal up on an empty data dir (initdb, migrations from nothing, audit key)")
        samples["up_first_ready_s"] = [up.start(calm)]
        note("a token, a login and a campaign for `shoal status`")
        samples["create_token_s"] = []
        mint = ["admin", "create-token", "--role", "operator", "--name", "bench", "-o", "json"]
        for _ in range(runs):
            sample, minted = time_command(env, mint, calm)
            samples["create_token_s"].append(sample)
        logged_in = env | {"SHOAL_TOKEN": json.loads(minted)["token"]}
        time_command(logged_in, ["login", "--url", up.url], None)
        time_command(env, ["apply", str(EXAMPLE), "-o", "json"], None)
        note(f"shoal --help and shoal status, {runs} times each")
        samples["help_s"] = _repeat(runs, lambda: time_command(env, ["--help"], calm))
        samples["status_s"] = _repeat(runs, lambda: time_command(env, ["status", CAMPAIGN], calm))
        up.stop()
        note(f"shoal up on the existing data dir, {up_runs} times")
        samples["up_ready_s"] = []
        for _ in range(up_runs):
            samples["up_ready_s"].append(up.start(calm))
            up.stop()
    finally:
        if up.process is not None:
            stop_process(up.process)
    return samples


UNITS_AND_NOTES = {
    "help_s": "`shoal --help`: the console script's start to its exit",
    "status_s": "`shoal status CAMPAIGN` against the running `shoal up` (one GET; no "
    "changesets yet), start to exit",
    "up_ready_s": "`shoal up` on an existing data dir, from its start until /readyz answers "
    "200 (embedded PostgreSQL and Redis started, schema checked, API and worker up)",
    "up_first_ready_s": "the same on an empty data dir: initdb, the whole migration, the audit key",
    "create_token_s": "`shoal admin create-token` in another shell beside the running `shoal "
    "up` (it uses the instance's PostgreSQL and starts no Redis)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="samples of each CLI command")
    parser.add_argument("--up-runs", type=int, default=5, help="starts on the existing data dir")
    parser.add_argument(
        "--calm",
        type=float,
        default=0.5,
        help="before each sample, wait (up to 30 s) until the machine's CPU is busy less than "
        "this share over one second; a negative value does not wait",
    )
    args = parser.parse_args()
    calm = None if args.calm < 0 else args.calm
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="shoal-bench-cli-") as tmp:
        samples = measure(Path(tmp), args.runs, args.up_runs, calm)
    load_after = os.getloadavg()
    results = {}
    for name, what in UNITS_AND_NOTES.items():
        taken = samples[name]
        walls = [round(s.wall_s, 3) for s in taken]
        value = round(statistics.median(walls), 3)
        cpu = statistics.median(s.cpu_s for s in taken)
        busy = statistics.median(s.busy_before for s in taken)
        results[name] = {
            "value": value,
            "unit": "s",
            "runs": walls,
            "note": f"{what}; median of {len(taken)} (CPU of the command itself: {cpu:.2f} s); "
            f"the machine (2 cores shared with other work) was {busy:.0%} busy the second "
            f"before a sample (median); load average {load_before[0]:.1f} before the "
            f"benchmark, {load_after[0]:.1f} after",
        }
        note(f"{name}: runs {walls}, CPU {cpu:.2f} s, machine busy before {busy:.0%}")
    write_figures(results, RESULTS, value_format="")


if __name__ == "__main__":
    main()
