"""The run pages of the web UI at 5,000 repositories: server time of a run's results page
(unfiltered, filtered by result, org, repository words and the paths a patch touches, a later
page, the htmx fragment) and of an execution's page (diff viewer, steps, log).

    flock /work/bench.lock uv run python bench/ui_runs.py [--samples 40]

A fresh database seeded by `bench/ui_seed.py` (a finished preview of 5,500 repositories:
5,000 patches with their per-file diff summaries, the rest no change or failed; the patches
in filesystem object storage), Shoal's API server in a thread, and a signed-in session.
Each figure is the p50 and p95 of `--samples` sequential GETs after two warm-up ones, timed
at the client over loopback. Writes `bench/results/ui_runs.json`."""

from __future__ import annotations

import sys
from pathlib import Path

# bench/queue.py is named like the standard library's `queue`, which psycopg imports: keep
# this script's folder off the import path so it gets the real one.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
sys.path.append(str(Path(__file__).resolve().parent))

import argparse
import re
import secrets
import statistics
import tempfile
import time
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
from shoal.config import Settings
from shoal.services.context import AppContext
from shoal.store import Database
from ui_seed import seed_campaign

RESULTS = Path(__file__).resolve().parent / "results" / "ui_runs.json"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
REDIS_DB = 4


def _sign_in(base: str, token: str) -> httpx.Client:
    http = httpx.Client(base_url=base, timeout=60)
    form = http.get("/ui/sign-in")
    found = CSRF.search(form.text)
    assert found, "the sign-in form has no CSRF token"
    answer = http.post(
        "/ui/sign-in", data={"token": token, "csrf_token": found.group(1), "next": "/ui/"}
    )
    assert answer.status_code == 303, answer.text
    return http


def _time(http: httpx.Client, path: str, samples: int, **headers: str) -> dict[str, float]:
    took = []
    for n in range(samples + 2):
        began = time.perf_counter()
        answer = http.get(path, headers=headers)
        elapsed = (time.perf_counter() - began) * 1000
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:500])
        if n >= 2:
            took.append(elapsed)
    took.sort()
    return {
        "p50_ms": round(statistics.median(took), 1),
        "p95_ms": round(took[max(int(len(took) * 0.95) - 1, 0)], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=40)
    args = parser.parse_args()
    with fresh_database() as url, tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=url,
            redis_url=redis_url(REDIS_DB),
            data_dir=Path(tmp),
            api_port=free_port(),
            audit_key=SecretStr(secrets.token_hex(32)),
        )
        local_keys(Path(tmp))
        db = Database(url)
        client: redis.Redis[bytes] = redis.Redis.from_url(redis_url(REDIS_DB))
        ctx = AppContext(settings=settings, db=db, redis=client)
        began = time.perf_counter()
        seeded = seed_campaign(db, changesets_count=5000, blobs=ctx.blobs)
        with db.transaction() as conn:
            conn.exec_driver_sql("ANALYZE")
        note(f"seeded {len(seeded.repos)} repositories in {time.perf_counter() - began:.1f} s")
        client.close()
        db.dispose()
        with running_api(settings) as api:
            token = api.headers["Authorization"].removeprefix("Bearer ")
            base = str(api.base_url).removesuffix("/api/v1/").removesuffix("/api/v1")
            http = _sign_in(base, token)
            try:
                run = f"/ui/runs/{seeded.run_id}"
                first = http.get(run).text
                after = re.search(r"after=(\d+)", first)
                assert after, "the run page has no next page"
                listed = re.search(r'/repos/([^"]+)"', http.get(f"{run}?state=patch").text)
                assert listed, "the run page lists no patch"
                patch_repo = listed.group(1)
                cases: dict[str, tuple[str, dict[str, str]]] = {
                    "run_page": (run, {}),
                    "run_page_failed": (f"{run}?state=failed", {}),
                    "run_page_org": (f"{run}?org=globex", {}),
                    "run_page_repo_words": (f"{run}?repo=service-01", {}),
                    "run_page_path": (f"{run}?path=.github/workflows/**", {}),
                    "run_page_org_path": (f"{run}?org=acme&path=**/Dockerfile", {}),
                    "run_page_later_page": (f"{run}?after={after.group(1)}", {}),
                    "run_fragment_path": (
                        f"{run}?path=.github/workflows/**",
                        {"HX-Request": "true", "HX-Target": "run-results"},
                    ),
                    "execution_page": (f"{run}/repos/{patch_repo}", {}),
                    "execution_page_split": (f"{run}/repos/{patch_repo}?view=split", {}),
                }
                figures: dict[str, Any] = {}
                for name, (path, headers) in cases.items():
                    figures[name] = _time(http, path, args.samples, **headers)
            finally:
                http.close()
    how = (
        f"{args.samples} sequential GETs after two warm-up ones, timed at the client over "
        f"loopback; a run of {sum(seeded.executions.values())} repositories "
        f"({seeded.executions['patch']} patches)"
    )
    results = {
        f"{name}_{stat}_ms": {"value": got[f"{stat}_ms"], "unit": "ms", "note": how}
        for name, got in figures.items()
        for stat in ("p50", "p95")
    }
    write_figures(results, RESULTS)


if __name__ == "__main__":
    main()
