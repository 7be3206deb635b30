"""A real preview of 1,000 small repositories, against a naive clone-sed-diff loop.

Three processes, all bound to 127.0.0.1: the GitHub simulator (`python -m shoal_sim serve
--ghes`), Shoal's worker (`python -m shoal worker`, its RSS sampled with psutil) and this
script, which runs Shoal's API server in a thread and drives it over HTTP as the CLI does:
apply the spec, start a preview, poll the run until it is done, page through its
executions. Then the baseline on the same repositories: for a sample of them, one after the
other, `git clone --depth 1` over the simulator's smart HTTP, the same `sed`, `git diff`.

Prints one `name: value unit` line per figure (`repos`, `repos_per_s`,
`baseline_repos_per_s`, `speedup_vs_baseline`, `per_repo_p50_ms`, `per_repo_p95_ms`,
`worker_peak_rss_mib`) and writes them to bench/results/preview.json.

With `--executor podman` each run previews the same repositories twice, first with the local
executor and then with podman (each step in a container of the step image, which
scripts/build-images.sh builds if missing), and reports podman's `repos_per_s` and its
`per_repo_overhead_ms` over local (and local's figures beside them) in
bench/results/preview_podman.json; there is no baseline loop.

    uv run python bench/preview.py [--runs N] [--concurrency C] [--parallelism P]
    uv run python bench/preview.py --executor podman [--repos 300]

Uses a throwaway database `shoal_bench_<random>` through SHOAL_BENCH_PG_URL (default
postgresql://postgres@127.0.0.1:5432/postgres), dropped afterwards, and Redis db 13 of
SHOAL_BENCH_REDIS (default redis://127.0.0.1:6379), flushed before every run. Every run
starts from nothing: new simulator, database, object store and workspace cache.
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
import base64
import os
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import jwt
import psutil
import redis
import yaml
from pydantic import SecretStr

from harness import (
    RssSampler,
    free_port,
    fresh_database,
    local_keys,
    note,
    ok,
    redis_url,
    running_api,
    running_sim_process,
    running_worker,
    write_figures,
)
from shoal.config import Settings
from shoal.observability.logs import configure_logging

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "preview.json"
PODMAN_RESULTS = ROOT / "bench" / "results" / "preview_podman.json"
REDIS_URL = redis_url(13)
ORG = "bench"
STARTUP_TIMEOUT = 120.0
RUN_TIMEOUT = 420.0
FINAL = {"done", "failed", "cancelled"}
UNITS = {
    "repos": "repos",
    "repos_per_s": "repos/s",
    "baseline_repos_per_s": "repos/s",
    "speedup_vs_baseline": "x",
    "per_repo_p50_ms": "ms",
    "per_repo_p95_ms": "ms",
    "worker_peak_rss_mib": "MiB",
}
PODMAN_UNITS = {
    "repos": "repos",
    "repos_per_s": "repos/s",
    "local_repos_per_s": "repos/s",
    "per_repo_overhead_ms": "ms",
    "per_repo_p50_ms": "ms",
    "local_per_repo_p50_ms": "ms",
}

# 3-5 files per repository; every one has a workflow on actions/checkout@v3.
FILES = {
    "README.md": "# $name\nThe $name service ($language).\n",
    ".github/workflows/ci.yml": (
        "name: ci\non: [push, pull_request]\njobs:\n  build:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - uses: actions/checkout@v3\n      - run: make test\n"
    ),
}
FILES_BY_LANGUAGE = {
    "Python": {"Dockerfile": "FROM python:3.8-slim\n", "requirements.txt": "requests==2.25.1\n"},
    "Go": {
        "Dockerfile": "FROM golang:1.19\n",
        "go.mod": "module example.com/$org/$name\n",
        "main.go": "package main\n\nfunc main() {}\n",
    },
    "TypeScript": {"package.json": '{"name": "$name", "engines": {"node": ">=16"}}\n'},
    "Java": {"Dockerfile": "FROM eclipse-temurin:11-jre\n"},
}
STEP = "sed -i 's#actions/checkout@v3#actions/checkout@v4#g' .github/workflows/ci.yml"
SPEC = {
    "name": "bench-preview",
    "on": [{"org": ORG}],
    "steps": [{"name": "bump-checkout", "run": STEP}],
    "changeset": {"title": "ci: bump actions/checkout to v4"},
}


def seed_document(repos: int) -> dict[str, Any]:
    return {
        "seed": 13,
        "orgs": [
            {
                "login": ORG,
                "generate": [
                    {
                        "count": repos,
                        "name": "svc-{i:04d}",
                        "languages": list(FILES_BY_LANGUAGE),
                        "default_branches": ["main", "main", "main", "master"],
                        "files": FILES,
                        "files_by_language": FILES_BY_LANGUAGE,
                    }
                ],
            }
        ],
        "apps": [
            {
                "slug": "shoal",
                "permissions": {"contents": "write", "metadata": "read"},
                "installations": [{"org": ORG}],
            }
        ],
    }


@contextmanager
def running_sim(repos: int, work: Path) -> Iterator[tuple[dict[str, Any], psutil.Process]]:
    """The simulator as its own process, in GHES mode: no rate limits, as on GHES."""
    with running_sim_process(seed_document(repos), work, STARTUP_TIMEOUT) as (info, process):
        if info["repos"] != repos:
            raise RuntimeError(f"seeded {info['repos']} repositories, not {repos}")
        yield info, process


def _cpu(process: psutil.Process, *, children: bool = True) -> float:
    """CPU time of a process, and of the children it has waited for (git, bwrap, sed)."""
    try:
        t = process.cpu_times()
    except psutil.Error:
        return 0.0
    return t.user + t.system + (t.children_user + t.children_system if children else 0.0)


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds so far: the machine's, and the parts of it that serve this preview."""

    busy: float  # every core's non-idle time
    worker: float
    worker_children: float
    sim: float
    postgres: float  # the backends connected to this run's database
    bench: float  # this process: the API server, polling, sampling

    @classmethod
    def take(cls, worker: psutil.Process, sim: psutil.Process, db_name: str) -> CpuSnapshot:
        t = psutil.cpu_times()
        backends = [
            p
            for p in psutil.process_iter(["name", "cmdline"])
            if (p.info["name"] or "").startswith("postgres")
            and db_name in " ".join(p.info["cmdline"] or ())
        ]
        own = _cpu(worker, children=False)
        return cls(
            busy=float(sum(t) - t.idle - getattr(t, "iowait", 0.0)),
            worker=own,
            worker_children=_cpu(worker) - own,
            sim=_cpu(sim),
            postgres=sum(_cpu(p, children=False) for p in backends),
            bench=_cpu(psutil.Process()),
        )

    def since(self, start: CpuSnapshot) -> dict[str, float]:
        """Seconds used since `start`, by part; `other` is the machine's work for others."""
        used = {k: v - getattr(start, k) for k, v in vars(self).items()}
        busy = used.pop("busy")
        return used | {"other": busy - sum(used.values())}


def preview(http: httpx.Client) -> tuple[dict[str, Any], float]:
    """Apply the spec, start a preview and wait for it; (final run, seconds observed)."""
    name = ok(http.post("/campaigns/apply", json={"spec": yaml.safe_dump(SPEC)}))
    started = time.perf_counter()
    run = ok(http.post(f"/campaigns/{name['campaign']['name']}/runs", json={"kind": "preview"}))
    while run["state"] not in FINAL:
        if time.perf_counter() - started > RUN_TIMEOUT:
            raise RuntimeError(f"run {run['id']} did not finish within {RUN_TIMEOUT:.0f}s: {run}")
        time.sleep(0.5)  # as `shoal preview` does; the figures use the server's timestamps
        run = ok(http.get(f"/runs/{run['id']}"))
    return run, time.perf_counter() - started


def executions(http: httpx.Client, run_id: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        params: dict[str, Any] = {"limit": 1000} | ({"after": found[-1]["id"]} if found else {})
        page = ok(http.get(f"/runs/{run_id}/executions", params=params))
        if not page:
            return found
        found += page


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def installation_token(info: dict[str, Any]) -> str:
    now = int(time.time())
    claims = {"iat": now - 60, "exp": now + 540, "iss": str(info["app_id"])}
    token = jwt.encode(claims, Path(info["private_key_path"]).read_text(), algorithm="RS256")
    response = httpx.post(
        f"{info['rest_url']}/app/installations/{info['installations'][ORG]}/access_tokens",
        headers={"authorization": f"Bearer {token}", "accept": "application/vnd.github+json"},
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["token"])


def baseline(info: dict[str, Any], names: list[str], work: Path) -> float:
    """Repos per second of clone + sed + diff, one repository after the other."""
    raw = base64.b64encode(f"x-access-token:{installation_token(info)}".encode()).decode()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(HOME=str(work), GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0")
    # The token goes in through the environment, never argv.
    env.update(GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="http.extraHeader")
    env.update(GIT_CONFIG_VALUE_0=f"Authorization: Basic {raw}")
    started = time.perf_counter()
    for name in names:
        clone = work / name
        url = f"{info['git_url']}/{ORG}/{name}.git"
        subprocess.run(
            ["git", "clone", "--quiet", "--depth", "1", url, str(clone)],
            env=env,
            check=True,
            timeout=60,
        )
        subprocess.run(["sh", "-c", STEP], cwd=clone, env=env, check=True, timeout=60)
        diff = subprocess.run(
            ["git", "diff"], cwd=clone, env=env, check=True, capture_output=True, timeout=60
        )
        if b"+      - uses: actions/checkout@v4" not in diff.stdout:
            raise RuntimeError(f"{name}: the baseline's diff lacks the change")
        shutil.rmtree(clone)
    return len(names) / (time.perf_counter() - started)


def py_spy(worker: psutil.Process, output: Path | None) -> subprocess.Popen[bytes] | None:
    """Attach py-spy to the worker (wall clock: waits show where they happen), or nothing."""
    if output is None:
        return None
    exe = shutil.which("py-spy")
    if exe is None:
        raise SystemExit("--py-spy needs py-spy: uv run --with py-spy python bench/preview.py")
    argv = [exe, "record", "--pid", str(worker.pid), "--rate", "100", "--idle"]
    argv += ["--format", "speedscope", "--output", str(output)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def worker_env(
    info: dict[str, Any], db_url: str, work: Path, args: argparse.Namespace, executor: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env |= {
        "SHOAL_DATABASE_URL": db_url,
        "SHOAL_REDIS_URL": REDIS_URL,
        "SHOAL_DATA_DIR": str(work / "data"),
        "SHOAL_WORK_DIR": str(work / "workspaces"),
        "SHOAL_OBJECT_STORE": "fs",
        "SHOAL_GITHUB_API_URL": info["rest_url"],
        "SHOAL_GITHUB_APP_ID": str(info["app_id"]),
        "SHOAL_GITHUB_PRIVATE_KEY_PATH": info["private_key_path"],
        "SHOAL_WORKER_CONCURRENCY": str(args.concurrency),
        "SHOAL_EXECUTION_PARALLELISM": str(args.parallelism),
        "SHOAL_LOG_FORMAT": "json",
        "SHOAL_LOG_LEVEL": "info",
        "SHOAL_EXECUTOR": executor,
    }
    if executor == "podman":
        env |= {
            "SHOAL_PODMAN_STORAGE_DIR": str(args.podman_storage_dir),
            "SHOAL_PODMAN_STEP_IMAGE": args.step_image,
        }
    return env


def report(
    units: dict[str, str], measured: list[dict[str, float]], notes: dict[str, str], output: Path
) -> None:
    """One `name: value unit` line per figure (the median over runs) on stdout, and the same
    figures, with each run's value when there were several, as JSON in `output`."""
    results: dict[str, dict[str, Any]] = {}
    for name, unit in units.items():
        values = [r[name] for r in measured]
        entry: dict[str, Any] = {"value": round(statistics.median(values), 2), "unit": unit}
        if len(measured) > 1:
            entry["runs"] = [round(v, 2) for v in values]
        if name in notes:
            entry["note"] = notes[name]
        results[name] = entry
    write_figures(results, output)


def run_once(args: argparse.Namespace, executor: str = "local") -> dict[str, float]:
    # Sandboxed steps run as uid 65534, which must traverse the workspaces' parents.
    work = Path(tempfile.mkdtemp(prefix="shoal-bench-preview-"))
    work.chmod(0o711)
    try:
        with redis.Redis.from_url(REDIS_URL) as client:
            client.flushdb()  # no cached token or governor state from an earlier run
        with running_sim(args.repos, work) as (info, sim), fresh_database() as db_url:
            note(f"simulator seeded {info['repos']} repositories in {info['seed_seconds']:.1f}s")
            local_keys(work / "data")
            # The API and the worker chain audit rows alike: one audit key for both.
            audit_key = secrets.token_hex(32)
            settings = Settings(
                database_url=SecretStr(db_url),
                redis_url=SecretStr(REDIS_URL),
                data_dir=work / "data",
                api_port=free_port(),
                audit_key=SecretStr(audit_key),
            )
            env = worker_env(info, db_url, work, args, executor) | {"SHOAL_AUDIT_KEY": audit_key}
            with (
                running_api(settings) as http,
                running_worker(env, work / "worker.log") as worker,
                RssSampler(worker) as rss,
            ):
                spy = py_spy(worker, args.py_spy)
                db_name = db_url.rpartition("/")[2]
                cpu_before = CpuSnapshot.take(worker, sim, db_name)
                run, observed = preview(http)
                cpu = CpuSnapshot.take(worker, sim, db_name).since(cpu_before)
                if spy is not None:
                    spy.send_signal(signal.SIGINT)  # py-spy writes its profile on SIGINT
                    spy.wait(timeout=120)
                done = executions(http, run["id"])
            states = Counter(e["state"] for e in done)
            note(f"run {run['id']}: {run['state']}, executions {dict(states)}")
            if run["state"] != "done" or states["patch"] != args.repos:
                raise RuntimeError(f"expected {args.repos} patches: {run}")
            created = _at(run["created_at"])
            last = max(_at(e["finished_at"]) for e in done)
            seconds = (last - created).total_seconds()
            selection = (_at(run["selection_done_at"]) - created).total_seconds()
            note(
                f"preview took {seconds:.1f}s ({observed:.1f}s polled), selection {selection:.1f}s"
            )
            shown = ", ".join(f"{k.replace('_', ' ')} {v:.0f}s" for k, v in cpu.items())
            note(f"CPU seconds during the preview: {shown}")
            durations = [
                (_at(e["finished_at"]) - _at(e["started_at"])).total_seconds() * 1000 for e in done
            ]
            cuts = statistics.quantiles(durations, n=100, method="inclusive")
            names = sorted(e["repo"].partition("/")[2] for e in done)
            sample = random.Random(7).sample(names, min(args.baseline_sample, len(names)))
            (work / "baseline").mkdir()
            base = baseline(info, sample, work / "baseline") if sample else float("nan")
        rate = run["progress"]["included"] / seconds
        note(
            f"worker peak RSS {rss.own / 2**20:.1f} MiB alone, "
            f"{rss.tree / 2**20:.1f} MiB with its children"
        )
        return {
            "repos": run["progress"]["included"],
            "repos_per_s": rate,
            "baseline_repos_per_s": base,
            "speedup_vs_baseline": rate / base,
            "per_repo_p50_ms": cuts[49],
            "per_repo_p95_ms": cuts[94],
            "worker_peak_rss_mib": rss.own / 2**20,
            "worker_tree_peak_rss_mib": rss.tree / 2**20,
            "selection_s": selection,
            "cpu_ms_per_repo": (sum(cpu.values()) - cpu["other"]) * 1000 / len(done),
            "cpu_other_share": cpu["other"] / (observed * (psutil.cpu_count() or 1)),
        }
    finally:
        if args.log_dir:
            args.log_dir.mkdir(parents=True, exist_ok=True)
            for log in ("worker.log", "sim.log"):
                if (work / log).exists():
                    shutil.copy(work / log, args.log_dir / log)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=1, help="repeat and report medians")
    parser.add_argument(
        "--repos", type=int, help="repositories to seed (1,000; 300 with --executor podman)"
    )
    parser.add_argument("--baseline-sample", type=int, default=200, help="repos the baseline times")
    parser.add_argument("--concurrency", type=int, default=4, help="SHOAL_WORKER_CONCURRENCY")
    parser.add_argument("--parallelism", type=int, default=4, help="SHOAL_EXECUTION_PARALLELISM")
    parser.add_argument("--log-dir", type=Path, help="keep the worker's and simulator's logs here")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--py-spy", type=Path, help="profile the worker with py-spy into FILE")
    parser.add_argument(
        "--executor",
        choices=["local", "podman"],
        default="local",
        help="podman: compare the podman executor with local on the same repositories",
    )
    parser.add_argument(
        "--podman-storage-dir",
        type=Path,
        default=ROOT / ".cache" / "podman",
        help="the podman image store (the step image is built into it if missing)",
    )
    args = parser.parse_args()
    if args.repos is None:
        args.repos = 300 if args.executor == "podman" else 1_000
    if args.executor == "podman":
        podman_main(args)
        return
    configure_logging("warning", "json")
    # Stopped from outside (timeout, Ctrl-C): unwind, so the worker and simulator stop too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    measured: list[dict[str, float]] = []
    for n in range(args.runs):
        measured.append(run_once(args))
        shown = ", ".join(f"{k}={v:.4g}" for k, v in measured[-1].items())
        note(f"run {n + 1}/{args.runs}: {shown}")

    def median(name: str) -> float:
        return statistics.median(r[name] for r in measured)

    setup = (
        f"worker_concurrency={args.concurrency}, execution_parallelism={args.parallelism}; "
        "simulator in GHES mode (no rate limits)"
    )
    notes = {
        "repos_per_s": f"included repos / (last execution finished - run created); {setup}; "
        f"CPU of the worker, simulator, PostgreSQL backends and API: "
        f"{median('cpu_ms_per_repo'):.0f} ms per repo; other work on the machine took "
        f"{median('cpu_other_share'):.0%} of its CPU meanwhile",
        "baseline_repos_per_s": f"sequential clone --depth 1 + sed + diff of "
        f"{min(args.baseline_sample, args.repos)} repos sampled from {args.repos}",
        "worker_peak_rss_mib": "the worker process alone, sampled every 100 ms; with its "
        f"children (bwrap, git, sed): {median('worker_tree_peak_rss_mib'):.1f} MiB",
        "per_repo_p50_ms": "execution finished_at - started_at",
        "per_repo_p95_ms": "execution finished_at - started_at",
    }
    report(UNITS, measured, notes, args.output)


def podman_main(args: argparse.Namespace) -> None:
    script = ROOT / "scripts" / "build-images.sh"
    built = subprocess.run(
        ["bash", str(script), "--storage-dir", str(args.podman_storage_dir), "step"],
        capture_output=True,
        text=True,
        check=True,
        timeout=1500,
    )
    args.step_image = built.stdout.split("=", 1)[1].strip()
    args.baseline_sample = 0
    if args.output == RESULTS:
        args.output = PODMAN_RESULTS
    measured: list[dict[str, float]] = []
    for n in range(args.runs):
        local = run_once(args, "local")
        podman = run_once(args, "podman")
        measured.append(
            {
                "repos": podman["repos"],
                "repos_per_s": podman["repos_per_s"],
                "local_repos_per_s": local["repos_per_s"],
                "per_repo_overhead_ms": podman["per_repo_p50_ms"] - local["per_repo_p50_ms"],
                "per_repo_p50_ms": podman["per_repo_p50_ms"],
                "local_per_repo_p50_ms": local["per_repo_p50_ms"],
                "podman_cpu_ms_per_repo": podman["cpu_ms_per_repo"],
                "local_cpu_ms_per_repo": local["cpu_ms_per_repo"],
                "local_cpu_other_share": local["cpu_other_share"],
            }
        )
        shown = ", ".join(f"{k}={v:.4g}" for k, v in measured[-1].items())
        note(f"run {n + 1}/{args.runs}: {shown}")

    def median(name: str) -> float:
        return statistics.median(r[name] for r in measured)

    setup = (
        f"{args.repos} repos, one sed step each; worker_concurrency={args.concurrency}, "
        f"execution_parallelism={args.parallelism}; simulator in GHES mode (no rate limits); "
        f"local, then podman, each from nothing"
    )
    notes = {
        "repos_per_s": f"podman: included repos / (last execution finished - run created); "
        f"{setup}; CPU of the worker and its children (podman, runc), simulator, PostgreSQL "
        f"and API: {median('podman_cpu_ms_per_repo'):.0f} ms per repo with podman, "
        f"{median('local_cpu_ms_per_repo'):.0f} ms with local (conmon and the containers' "
        "processes are not the worker's children and are not in the podman figure); other "
        f"work on the machine took {median('local_cpu_other_share'):.0%} of its CPU during "
        "the local preview",
        "per_repo_overhead_ms": "median execution time (finished_at - started_at) with "
        "podman minus the same with local: one container per step (create, start, remove) "
        "and a memory cgroup, against bubblewrap",
    }
    report(PODMAN_UNITS, measured, notes, args.output)


if __name__ == "__main__":
    main()
