"""The web UI's pages over a campaign of 5,000 changesets: how long the server takes to answer.

A campaign is written straight into a throwaway database by `bench/ui_seed.py` (three spec
versions, a finished preview run of 5,500 repositories with their diff summaries and patches,
5,000 changesets in every state with PR numbers, checks, review decisions, five orgs and their
state history over three weeks), then Shoal's API server runs in a thread of this process and
the script signs in through `/ui/sign-in` as a browser does (the sign-in form's CSRF token,
then the session cookie) and loads the pages one request at a time, each round every page in
turn (`--requests` rounds after `--warmup` unmeasured ones, `--runs` times; each figure is the
median of the runs'):

- `campaigns_list`: `GET /ui/` (every campaign with its counts);
- `campaign_page`: `GET /ui/campaigns/NAME` (counts, holds, highlighted spec, versions,
  burndown, budgets, runs);
- `changesets_page`: `GET /ui/campaigns/NAME/changesets` unfiltered (first page of the table);
- `changesets_search`: the same page filtered as a user searches it: a repository substring
  and a state, the next round another substring and state (six combinations in turn), each
  answering a filtered, counted, paged table;
- `run_page`: `GET /ui/runs/ID` (the preview's per-repository results).

The figure is the server's time: the `Server-Timing: app;dur=...` header the API adds to every
answer, measured in the server from the request's arrival to its answer's first byte (the
page's queries and its rendering; a page is rendered whole before it is sent). The client's
time for the same requests (over localhost, body read) is in each figure's note.

Prints one `name: value unit` line per figure and writes them, each with a note, to
bench/results/ui.json (`--output`); diagnostics go to stderr.

    uv run python bench/ui.py [--changesets N] [--requests N] [--runs N] [--quick]
        [--output FILE]

Uses a throwaway database through SHOAL_BENCH_PG_URL (default
postgresql://postgres@127.0.0.1:5432/postgres), dropped afterwards, and Redis db 10 of
SHOAL_BENCH_REDIS (default redis://127.0.0.1:6379), flushed first.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Keep bench/ off the front of the import path (bench/queue.py shadows `queue`), but find
# `harness` at its end.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
sys.path.append(str(Path(__file__).resolve().parent))

import argparse
import os
import re
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import redis
from pydantic import SecretStr

from harness import (
    free_port,
    fresh_database,
    local_keys,
    note,
    redis_url,
    running_api,
    write_figures,
)
from shoal.blobs.from_settings import open_object_store
from shoal.config import Settings
from shoal.store import Database
from ui_seed import seed_campaign

RESULTS = Path(__file__).resolve().parent / "results" / "ui.json"
REDIS_URL = redis_url(10)
CAMPAIGN = "bump-checkout-v4"
SIGN_IN_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SERVER_TIMING = re.compile(r"app;dur=([0-9.]+)")
# What a user types in the search box and ticks, in turn.
SEARCHES = (
    ("service-01", "open"),
    ("acme/", "failed"),
    ("service-42", "merged"),
    ("globex/service-0", "draft"),
    ("umbrella", "needs_human"),
    ("service-3", "scheduled"),
)
TURNS = " (and the other searches in turn)"
TARGETS_MS = {"campaign_page_p95_ms": 300.0, "changesets_search_p95_ms": 200.0}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def sign_in(base_url: str, token: str) -> httpx.Client:
    """A browser-like client signed in to the UI with `token`."""
    browser = httpx.Client(base_url=base_url, timeout=60, follow_redirects=False)
    form = browser.get("/ui/sign-in")
    found = SIGN_IN_CSRF.search(form.text)
    if form.status_code != 200 or not found:
        raise RuntimeError(f"the sign-in form did not load: {form.status_code}")
    answer = browser.post(
        "/ui/sign-in", data={"token": token, "csrf_token": found.group(1), "next": "/ui/"}
    )
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in refused: {answer.status_code} {answer.text[:200]}")
    return browser


def timed(browser: httpx.Client, url: str) -> tuple[float, float]:
    """(server ms from Server-Timing, client ms to the last byte) of one page load."""
    started = time.perf_counter()
    answer = browser.get(url)
    client_ms = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        raise RuntimeError(f"GET {url}: {answer.status_code} {answer.text[:300]}")
    found = SERVER_TIMING.search(answer.headers.get("server-timing", ""))
    if not found:
        raise RuntimeError(f"GET {url}: no Server-Timing header")
    return float(found.group(1)), client_ms


def measure(
    browser: httpx.Client, pages: dict[str, Callable[[int], str]], *, rounds: int, warmup: int
) -> dict[str, tuple[list[float], list[float]]]:
    """Each round loads every page once, in turn, so that a burst of other work on the
    machine falls on all pages alike: page -> (server ms, client ms) of each round."""
    for n in range(warmup):
        for urls in pages.values():
            timed(browser, urls(n))
    found: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in pages}
    for n in range(rounds):
        for name, urls in pages.items():
            server, client = timed(browser, urls(n))
            found[name][0].append(server)
            found[name][1].append(client)
    return found


@contextmanager
def seeded_api(args: argparse.Namespace, work: Path) -> Iterator[tuple[httpx.Client, int]]:
    redis.Redis.from_url(REDIS_URL).flushdb()
    with fresh_database() as db_url:
        local_keys(work / "data")
        settings = Settings(
            audit_key=SecretStr(secrets.token_hex(32)),
            database_url=SecretStr(db_url),
            redis_url=SecretStr(REDIS_URL),
            data_dir=work / "data",
            api_port=free_port(),
        )
        db = Database(db_url, pool_size=2)
        started = time.perf_counter()
        try:
            seeded = seed_campaign(
                db,
                name=CAMPAIGN,
                changesets_count=args.changesets,
                now=datetime.now(UTC),
                blobs=open_object_store(settings, ensure_bucket=True),
            )
            with db.transaction() as conn:
                conn.exec_driver_sql("ANALYZE")
        finally:
            db.dispose()
        states = {state.value: n for state, n in seeded.states.items()}
        took = time.perf_counter() - started
        note(f"seeded {args.changesets} changesets {states} in {took:.1f} s")
        with running_api(settings) as http:
            yield http, seeded.run_id


def run(args: argparse.Namespace) -> dict[str, tuple[float, list[float], str]]:
    with (
        tempfile.TemporaryDirectory(prefix="shoal-bench-ui-") as tmp,
        seeded_api(args, Path(tmp)) as (http, run_id),
    ):
        token = http.headers["Authorization"].removeprefix("Bearer ")
        base = str(http.base_url).removesuffix("/api/v1/").removesuffix("/api/v1")
        browser = sign_in(base, token)
        pages: dict[str, Callable[[int], str]] = {
            "campaigns_list": lambda n: "/ui/",
            "campaign_page": lambda n: f"/ui/campaigns/{CAMPAIGN}",
            "changesets_page": lambda n: f"/ui/campaigns/{CAMPAIGN}/changesets",
            "changesets_search": lambda n: (
                f"/ui/campaigns/{CAMPAIGN}/changesets?repo={SEARCHES[n % len(SEARCHES)][0]}"
                f"&state={SEARCHES[n % len(SEARCHES)][1]}"
            ),
            "run_page": lambda n: f"/ui/runs/{run_id}",
        }
        samples: dict[str, list[tuple[list[float], list[float]]]] = {name: [] for name in pages}
        with closing(browser):
            for number in range(args.runs):
                measured = measure(browser, pages, rounds=args.requests, warmup=args.warmup)
                for name, (server, client) in measured.items():
                    samples[name].append((server, client))
                    note(
                        f"run {number + 1}: {name} p50 {statistics.median(server):.1f} ms, "
                        f"p95 {percentile(server, 0.95):.1f} ms (server), "
                        f"p95 {percentile(client, 0.95):.1f} ms (client)"
                    )
    figures: dict[str, tuple[float, list[float], str]] = {}
    for name, urls in pages.items():
        per_run = samples[name]
        client_p95 = statistics.median(percentile(c, 0.95) for _, c in per_run)
        client_p50 = statistics.median(statistics.median(c) for _, c in per_run)
        turns = TURNS if "search" in name else ""
        how = (
            f"server time (Server-Timing app;dur) of GET {urls(0)}{turns}, signed in as "
            f"admin, over {args.changesets} changesets: {args.requests} loads "
            f"a run (each round every page in turn, after {args.warmup} unmeasured rounds), "
            f"median of {args.runs} runs; client time to the last byte over localhost p50 "
            f"{client_p50:.1f} ms, p95 {client_p95:.1f} ms"
        )
        for label, stat in (("p50", 0.5), ("p95", 0.95)):
            values = [round(percentile(server, stat), 1) for server, _ in per_run]
            figures[f"{name}_{label}_ms"] = (statistics.median(values), values, how)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changesets", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=100, help="measured loads per page")
    parser.add_argument("--runs", type=int, default=3, help="measurements (figures: medians)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--quick", action="store_true", help="500 changesets, 20 loads; writes no results"
    )
    args = parser.parse_args()
    if args.quick:
        args.changesets, args.requests, args.warmup, args.runs = 500, 20, 2, 1
    load_before = os.getloadavg()[0]
    figures = run(args)
    load_after = os.getloadavg()[0]
    results: dict[str, dict[str, Any]] = {}
    for name, (value, runs, how) in figures.items():
        entry: dict[str, Any] = {"value": value, "unit": "ms", "note": how}
        if len(runs) > 1:
            entry["runs"] = runs
        if name in TARGETS_MS:
            entry["target"] = f"< {TARGETS_MS[name]:g} ms"
        results[name] = entry
    results["load_average"] = {
        "value": round(load_after, 2),
        "unit": "",
        "note": f"1-minute load average of the 2-core machine: {load_before:.2f} before, "
        f"{load_after:.2f} after",
    }
    # A quick check writes nothing: the committed results stay the full run's.
    write_figures(results, None if args.quick else args.output)


if __name__ == "__main__":
    main()
