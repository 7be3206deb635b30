"""Benchmarks of the GitHub simulator (issue 3): seeding, REST latency, parallel git pushes.

Runs ``python -m shoal_sim serve`` as a subprocess (what a user or the demo runs; the load
generator's threads then don't share a GIL with the server), bound to 127.0.0.1 and seeded
with 5,000 generated repositories, then measures:

- ``seed_5000_s``: the server's own seeding time (``apply_seed`` of the document below into a
  fresh data dir; reported by ``-o json`` as ``seed_seconds``);
- ``seed_5000_disk_mib``: blocks the data dir occupies afterwards (like ``du``);
- ``rest_get_p50_ms`` / ``rest_get_p99_ms`` / ``rest_get_rps``: 8 keep-alive clients doing
  authenticated ``GET /repos/{owner}/{repo}`` on random seeded repositories;
- ``parallel_push_50_s``: 50 ``git push`` of a new branch, each from its own clone of a
  different repository, all released at once; wall time until the last one finished.

The server runs with ``--ghes``, which disables rate limits as GHES does, so the limiter does
not refuse the load. Prints one ``name: value unit`` line per figure on stdout (notes go to
stderr) and writes ``bench/results/sim.json``. ``--runs N`` repeats and reports medians.

    uv run python bench/sim.py [--runs 3] [--repos 5000]
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py is named like the standard library's `queue`, which concurrent.futures
# imports: keep this script's folder off the import path so it gets the real one...
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
# ...and at the end of it, where `harness` (the benchmarks' shared module) is still found.
sys.path.append(str(Path(__file__).resolve().parent))

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import yaml

from harness import note, write_figures

RESULTS = Path(__file__).resolve().parent / "results" / "sim.json"
ORG = "bench"
REST_CLIENTS = 8
REST_REQUESTS = 4_000
REST_WARMUP = 200
REST_MAX_SECONDS = 60.0
PUSHES = 50
STARTUP_TIMEOUT = 300.0
GHES_NOTE = "server in GHES mode (--ghes): rate limits disabled, as on GHES"

FILES = {
    "README.md": "# $name\nThe $name service ($language), built from $default_branch.\n",
    ".github/workflows/ci.yml": (
        "name: ci\non: [push, pull_request]\njobs:\n  build:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - uses: actions/checkout@v3\n      - run: make test\n"
    ),
}
FILES_BY_LANGUAGE = {
    "Python": {"Dockerfile": "FROM python:3.8-slim\n", "requirements.txt": "requests==2.25.1\n"},
    "Go": {"Dockerfile": "FROM golang:1.19\n", "go.mod": "module example.com/$org/$name\n"},
    "TypeScript": {"package.json": '{"name": "$name", "engines": {"node": ">=16"}}\n'},
    "Java": {"Dockerfile": "FROM eclipse-temurin:11-jre\n"},
}


def seed_document(repos: int) -> dict[str, Any]:
    return {
        "seed": 7,
        "orgs": [
            {
                "login": ORG,
                "generate": [
                    {
                        "count": repos,
                        "name": "svc-{i:05d}",
                        "languages": list(FILES_BY_LANGUAGE),
                        "default_branches": ["main", "main", "main", "master"],
                        "archived_every": 0,
                        "files": FILES,
                        "files_by_language": FILES_BY_LANGUAGE,
                    }
                ],
            }
        ],
        "apps": [
            {
                "slug": "bench",
                "permissions": {"contents": "write", "metadata": "read"},
                "installations": [{"org": ORG}],
            }
        ],
    }


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    note: str | None = None


@dataclass(frozen=True)
class Server:
    url: str
    info: dict[str, Any]
    process: subprocess.Popen[str]


def disk_usage(root: Path) -> int:
    """Bytes of blocks allocated under ``root``, each inode counted once (like ``du``)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for directory, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            st = os.lstat(os.path.join(directory, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total + os.lstat(root).st_blocks * 512


def _first_line(process: subprocess.Popen[str], timeout: float) -> str:
    stdout = process.stdout
    assert stdout is not None
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not line or not line[0]:
        raise RuntimeError(f"simulator did not report ready within {timeout:.0f}s")
    return line[0]


@contextmanager
def running_server(seed_file: Path, data_dir: Path, log: Path) -> Iterator[Server]:
    argv = [sys.executable, "-m", "shoal_sim", "serve", "--seed", str(seed_file), "--port", "0"]
    argv += ["--ghes", "--data-dir", str(data_dir), "-o", "json"]
    with log.open("w") as err:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            info = json.loads(_first_line(process, STARTUP_TIMEOUT))
            yield Server(info["git_url"], info, process)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def installation_token(server: Server) -> str:
    info = server.info
    now = int(time.time())
    claims = {"iat": now - 60, "exp": now + 540, "iss": str(info["app_id"])}
    token = jwt.encode(claims, Path(info["private_key_path"]).read_text(), algorithm="RS256")
    inst = info["installations"][ORG]
    response = httpx.post(
        f"{server.url}/app/installations/{inst}/access_tokens",
        headers={"authorization": f"Bearer {token}", "accept": "application/vnd.github+json"},
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["token"])


def rest_load(server: Server, token: str, names: list[str]) -> list[Figure]:
    """``REST_CLIENTS`` threads share one budget of requests; latencies after a warm-up."""
    lock = threading.Lock()
    issued = 0
    latencies: list[float] = []
    failures: list[str] = []
    deadline = time.monotonic() + REST_MAX_SECONDS

    def take() -> int | None:
        nonlocal issued
        with lock:
            if issued >= REST_WARMUP + REST_REQUESTS or time.monotonic() > deadline:
                return None
            issued += 1
            return issued

    def client(n: int) -> None:
        rng = random.Random(n)
        headers = {"authorization": f"token {token}", "accept": "application/vnd.github+json"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
            while (ticket := take()) is not None:
                started = time.perf_counter()
                response = http.get(f"/repos/{ORG}/{rng.choice(names)}")
                elapsed = time.perf_counter() - started
                with lock:
                    if response.status_code != 200:
                        failures.append(f"{response.status_code} {response.text[:200]}")
                    elif ticket > REST_WARMUP:
                        latencies.append(elapsed)

    started = time.perf_counter()
    with ThreadPoolExecutor(REST_CLIENTS) as pool:
        list(pool.map(client, range(REST_CLIENTS)))
    wall = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} REST GETs failed, first: {failures[0]}")
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    rps = (len(latencies) + REST_WARMUP) / wall
    note(f"{len(latencies) + REST_WARMUP} REST GETs in {wall:.1f}s")
    detail = f"{GHES_NOTE}; {len(latencies)} timed requests after {REST_WARMUP} warm-up"
    return [
        Figure("rest_get_p50_ms", round(cuts[49] * 1000, 2), "ms", detail),
        Figure("rest_get_p99_ms", round(cuts[98] * 1000, 2), "ms", detail),
        Figure("rest_get_rps", round(rps, 1), "req/s", detail),
    ]


def git(*args: str, cwd: Path, env: dict[str, str]) -> None:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"git {args[0]} in {cwd.name} failed: {proc.stderr.strip()}")


def parallel_pushes(server: Server, token: str, names: list[str], work: Path) -> Figure:
    home = work / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0")
    env.update(GIT_AUTHOR_NAME="Bench", GIT_AUTHOR_EMAIL="bench@example.com")
    env.update(GIT_COMMITTER_NAME="Bench", GIT_COMMITTER_EMAIL="bench@example.com")
    remote = server.url.replace("http://", f"http://x-access-token:{token}@", 1)
    branch = f"bench/push-{int(time.time())}"

    def prepare(name: str) -> Path:
        clone = work / name
        git("clone", "--quiet", f"{remote}/{ORG}/{name}.git", str(clone), cwd=work, env=env)
        (clone / "bench.txt").write_text(f"{name} {branch}\n")
        git("checkout", "--quiet", "-b", branch, cwd=clone, env=env)
        git("add", "bench.txt", cwd=clone, env=env)
        git("commit", "--quiet", "-m", "bench: new branch", cwd=clone, env=env)
        return clone

    started = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        clones = list(pool.map(prepare, names))
    note(f"{len(clones)} clones prepared in {time.perf_counter() - started:.1f}s (not timed)")

    gate = threading.Barrier(len(clones) + 1)

    def push(clone: Path) -> float:
        gate.wait(timeout=60)
        git("push", "--quiet", "origin", f"HEAD:refs/heads/{branch}", cwd=clone, env=env)
        return time.perf_counter()

    with ThreadPoolExecutor(len(clones)) as pool:
        futures = [pool.submit(push, clone) for clone in clones]
        gate.wait(timeout=60)
        started = time.perf_counter()
        finished = max(f.result(timeout=300) for f in futures)

    headers = {"authorization": f"token {token}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
        for name in names:
            response = http.get(f"/repos/{ORG}/{name}/branches/{branch}")
            if response.status_code != 200:
                raise RuntimeError(f"{name}: branch missing after push ({response.status_code})")
    return Figure("parallel_push_50_s", round(finished - started, 2), "s")


def run_once(repos: int) -> list[Figure]:
    work = Path(tempfile.mkdtemp(prefix="shoal-bench-sim-"))
    try:
        seed_file = work / "seed.yaml"
        seed_file.write_text(yaml.safe_dump(seed_document(repos)))
        data_dir = work / "data"
        launched = time.perf_counter()
        with running_server(seed_file, data_dir, work / "server.log") as server:
            note(f"server ready {time.perf_counter() - launched:.1f}s after launch")
            seeded = Figure(f"seed_{repos}_s", round(float(server.info["seed_seconds"]), 2), "s")
            disk = Figure(f"seed_{repos}_disk_mib", round(disk_usage(data_dir) / 2**20, 1), "MiB")
            if server.info["repos"] != repos:
                raise RuntimeError(f"seeded {server.info['repos']} repositories, not {repos}")
            token = installation_token(server)
            names = [f"svc-{i:05d}" for i in range(1, repos + 1)]
            rest = rest_load(server, token, names)
            pushes_dir = work / "pushes"
            pushes_dir.mkdir()
            picked = random.Random(repos).sample(names, min(PUSHES, repos))
            pushed = parallel_pushes(server, token, picked, pushes_dir)
        return [seeded, disk, *rest, pushed]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=1, help="repeat and report medians")
    parser.add_argument("--repos", type=int, default=5_000, help="repositories to seed")
    parser.add_argument("--output", type=Path, default=RESULTS)
    # Creating files right after the previous run deleted its 5,000 repositories is several
    # times slower on this VM's disk (kernel time in mkdir/open), so let it settle.
    parser.add_argument("--pause", type=float, default=45.0, help="seconds between runs")
    args = parser.parse_args()

    runs: list[list[Figure]] = []
    for n in range(args.runs):
        if n:
            time.sleep(args.pause)
        runs.append(run_once(args.repos))
        if args.runs > 1:
            shown = ", ".join(f"{f.name}={f.value}" for f in runs[-1])
            note(f"run {n + 1}/{args.runs}: {shown}")
    note(GHES_NOTE)

    results: dict[str, dict[str, Any]] = {}
    for figures in zip(*runs, strict=True):
        first = figures[0]
        value = statistics.median(f.value for f in figures)
        entry: dict[str, Any] = {"value": value, "unit": first.unit}
        if args.runs > 1:
            entry["runs"] = [f.value for f in figures]
        if first.note:
            entry["note"] = first.note
        results[first.name] = entry
    write_figures(results, args.output, value_format="")


if __name__ == "__main__":
    main()
