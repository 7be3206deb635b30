"""What the benchmarks share: a throwaway database, Shoal's API server in a thread or as its
own process (`shoal api`), `shoal worker` as its own process, the simulator as its own process
(`python -m shoal_sim serve`), peak RSS sampling, and the small helpers around them.

The scripts import this module by name after putting their folder at the *end* of the import
path: at the front it would let `bench/queue.py` stand in for the standard library's `queue`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil
import redis

from shoal.config import Settings
from shoal.crypto import create_key_file
from shoal.domain.auth import Role
from shoal.domain.clock import Clock, SystemClock
from shoal.runtime.serve import api_server
from shoal.services import tokens
from shoal.services.context import AppContext
from shoal.store import Database
from shoal.store.migrate import upgrade

__all__ = [
    "ADMIN_URL",
    "CpuMeter",
    "RssSampler",
    "admin_token",
    "free_port",
    "fresh_database",
    "note",
    "ok",
    "postgres_backends",
    "process_tree",
    "redis_url",
    "running_api",
    "running_api_process",
    "running_sim_process",
    "running_worker",
    "stop_process",
    "write_figures",
]

ADMIN_URL = os.environ.get("SHOAL_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
STARTUP_TIMEOUT = 120.0


def redis_url(db: int) -> str:
    """Redis database `db` of SHOAL_BENCH_REDIS (default redis://127.0.0.1:6379): each
    benchmark has its own, so that two can run at once."""
    return os.environ.get("SHOAL_BENCH_REDIS", "redis://127.0.0.1:6379").rstrip("/") + f"/{db}"


def write_figures(
    figures: dict[str, dict[str, Any]], output: Path | None, *, value_format: str = "g"
) -> None:
    """A benchmark's figures, the way every benchmark reports them: one `name: value unit`
    line per figure on stdout, and the same figures (each at least `value` and `unit`, with
    any `note`, `runs` or `target`) as JSON in `output` (None: printed only). `value_format`
    is the format spec of the printed value ("" prints it as `str` does)."""
    for name, entry in figures.items():
        print(f"{name}: {entry['value']:{value_format}} {entry['unit']}".rstrip())
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(figures, indent=2) + "\n")


def note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ok(response: httpx.Response) -> Any:
    """The JSON body of a successful answer; an error answer raises with its text."""
    if response.status_code >= 400:
        raise RuntimeError(f"{response.request.url.path}: {response.status_code} {response.text}")
    return response.json()


def stop_process(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


def _admin(sql: str) -> None:
    admin = Database(ADMIN_URL, pool_size=1)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(sql)
    admin.dispose()


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new database `shoal_bench_<random>` with Shoal's schema, dropped afterwards."""
    name = f"shoal_bench_{uuid.uuid4().hex[:10]}"
    _admin(f"CREATE DATABASE {name}")
    url = ADMIN_URL.rpartition("/")[0] + f"/{name}"
    try:
        db = Database(url, pool_size=1)
        upgrade(db)
        db.dispose()
        yield url
    finally:
        _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def local_keys(data_dir: Path) -> None:
    """The encryption keys every process of a bench run reads from its data dir (as `shoal up`
    makes them): the API and the workers must open what the others sealed."""
    create_key_file(Settings(data_dir=data_dir))


def admin_token(settings: Settings) -> str:
    """A new admin API token in the settings' database (as `shoal admin create-token`)."""
    db = Database(settings.database_url.get_secret_value(), pool_size=1)  # type: ignore[union-attr]
    client: redis.Redis[bytes] = redis.Redis.from_url(
        settings.redis_url.get_secret_value()  # type: ignore[union-attr]
    )
    try:
        ctx = AppContext(settings=settings, db=db, redis=client, clock=SystemClock())
        _, token = tokens.create_token(ctx, name="bench", role=Role.ADMIN, actor="bench")
        return token
    finally:
        client.close()
        db.dispose()


@contextmanager
def running_api(settings: Settings, clock: Clock | None = None) -> Iterator[httpx.Client]:
    """Shoal's API server in a thread of this process; a client with an admin token."""
    db = Database(settings.database_url.get_secret_value())  # type: ignore[union-attr]
    client: redis.Redis[bytes] = redis.Redis.from_url(
        settings.redis_url.get_secret_value()  # type: ignore[union-attr]
    )
    ctx = AppContext(settings=settings, db=db, redis=client, clock=clock or SystemClock())
    _, token = tokens.create_token(ctx, name="bench", role=Role.ADMIN, actor="bench")
    server = api_server(ctx)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(
            base_url=f"{settings.api_url}/api/v1", headers=headers, timeout=60
        ) as http:
            yield http
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        client.close()
        db.dispose()


@contextmanager
def running_worker(env: dict[str, str], log: Path) -> Iterator[psutil.Process]:
    """`shoal worker` as its own process; yields once it logged `worker_started`."""
    with log.open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "shoal", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while '"worker_started"' not in log.read_text():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the worker did not start; see {log}")
                time.sleep(0.02)
            yield psutil.Process(process.pid)
        finally:
            stop_process(process)


@contextmanager
def running_api_process(env: dict[str, str], log: Path) -> Iterator[psutil.Process]:
    """`shoal api` as its own process (configured by `env`, which must set SHOAL_API_PORT);
    yields once `/readyz` answers 200."""
    url = f"http://127.0.0.1:{env['SHOAL_API_PORT']}/readyz"
    with log.open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "shoal", "api"], env=env, stdout=err, stderr=err
        )
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while True:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the API server did not start; see {log}")
                try:
                    if httpx.get(url, timeout=5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
            yield psutil.Process(process.pid)
        finally:
            stop_process(process)


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
def running_sim_process(
    seed: dict[str, Any], work: Path, timeout: float = STARTUP_TIMEOUT
) -> Iterator[tuple[dict[str, Any], psutil.Process]]:
    """The simulator as its own process in GHES mode (no rate limits, as on GHES), seeded
    with `seed`; yields what it printed when ready (`-o json`: URLs, App, installations,
    repos, seed_seconds) and the process. Data under `work/sim`, its log `work/sim.log`."""
    seed_file = work / "seed.json"
    seed_file.write_text(json.dumps(seed))
    argv = [sys.executable, "-m", "shoal_sim", "serve", "--seed", str(seed_file), "--port", "0"]
    argv += ["--ghes", "--data-dir", str(work / "sim"), "-o", "json"]
    with (work / "sim.log").open("w") as err:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            info: dict[str, Any] = json.loads(_first_line(process, timeout))
            yield info, psutil.Process(process.pid)
        finally:
            stop_process(process)


class RssSampler:
    """Peak RSS of a process (every 100 ms) and of it with its children (bwrap, git, sed;
    every 500 ms: listing children walks all of /proc, which costs CPU the run needs)."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.own = 0
        self.tree = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        ticks = 0
        while not self._stop.wait(0.1):
            ticks += 1
            try:
                own = self.process.memory_info().rss
                children = self.process.children(recursive=True) if ticks % 5 == 0 else []
            except psutil.Error:
                return
            tree = own
            for child in children:
                try:
                    tree += child.memory_info().rss
                except psutil.Error:
                    continue  # exited between the listing and the read
            self.own, self.tree = max(self.own, own), max(self.tree, tree)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class CpuMeter:
    """CPU seconds (user + system) that named groups of processes use between `start` and
    `stop`. A thread samples every process of each group every `interval` seconds, so a
    process that exits meanwhile (a PostgreSQL backend whose connection closed) still counts
    up to its last sample; a process that starts meanwhile counts from zero. Whatever a
    process that lived less than `interval` used between samples is missed."""

    def __init__(
        self, groups: dict[str, Callable[[], Iterable[psutil.Process]]], interval: float = 0.5
    ) -> None:
        self._groups = groups
        self._interval = interval
        self._first: dict[tuple[str, int, float], float] = {}
        self._last: dict[tuple[str, int, float], float] = {}
        self._started = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._machine = 0.0

    @staticmethod
    def _busy() -> float:
        t = psutil.cpu_times()
        return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))

    def _sample(self) -> None:
        for name, processes in self._groups.items():
            try:
                found = list(processes())
            except psutil.Error:
                continue
            for process in found:
                try:
                    with process.oneshot():
                        t = process.cpu_times()
                        born = process.create_time()
                except psutil.Error:
                    continue
                key = (name, process.pid, born)
                used = t.user + t.system
                if key not in self._first:
                    self._first[key] = used if born < self._started else 0.0
                self._last[key] = used

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def start(self) -> None:
        self._started = time.time()
        self._machine = self._busy()
        self._sample()
        self._thread.start()

    def stop(self) -> tuple[dict[str, float], float]:
        """CPU seconds per group, and the whole machine's busy CPU seconds meanwhile."""
        self._stop.set()
        self._thread.join()
        self._sample()
        used = dict.fromkeys(self._groups, 0.0)
        for key, last in self._last.items():
            used[key[0]] += last - self._first[key]
        return used, self._busy() - self._machine


def process_tree(root: psutil.Process) -> Callable[[], list[psutil.Process]]:
    """`root` and its descendants, as they are when called (for `CpuMeter`)."""

    def tree() -> list[psutil.Process]:
        try:
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    return tree


def postgres_backends(database: str) -> Callable[[], list[psutil.Process]]:
    """The PostgreSQL server processes working for `database` (for `CpuMeter`): the
    backends of its connections and the autovacuum workers on it, found by the process
    title PostgreSQL gives them (`postgres: USER DATABASE HOST(PORT) ...`)."""

    def backends() -> list[psutil.Process]:
        found = []
        for process in psutil.process_iter(["cmdline"]):
            title = " ".join(process.info["cmdline"] or []) + " "
            if title.startswith("postgres:") and f" {database} " in title:
                found.append(process)
        return found

    return backends


def py_spy(
    pids: dict[str, int], out_dir: Path | None, *, flags: Sequence[str] = ()
) -> list[subprocess.Popen[bytes]]:
    """Sample each process with py-spy at 50 Hz into `out_dir/<name>.txt` as collapsed
    stacks, or nothing without `--py-spy`. `flags` choose what is sampled: `--threads` (per
    thread; blocked threads show in the frame they wait in), `--gil` (only the thread
    holding the GIL: where Python spends CPU), or neither (idle threads left out)."""
    if out_dir is None:
        return []
    exe = shutil.which("py-spy")
    if exe is None:
        raise SystemExit("--py-spy needs py-spy on PATH (uv tool install py-spy)")
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [exe, "record", "--pid", str(pid), "--rate", "50", "--format", "raw", *flags,
             "--output", str(out_dir / f"{name}.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in pids.items()
    ]  # fmt: skip


def stop_py_spy(spies: list[subprocess.Popen[bytes]], *, timeout_s: float = 300) -> None:
    """Stop the samplers; each writes its profile on SIGINT."""
    for spy in spies:
        spy.send_signal(signal.SIGINT)
    for spy in spies:
        spy.wait(timeout=timeout_s)
