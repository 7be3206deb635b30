"""Budget claims against a short and a long line: the cost of a claim must not grow with the
number of changesets waiting for the org's budget.

For each line length (500 and 5,000 changesets waiting in one org, spread round-robin over
four campaigns), a fresh database gets the line, then the reconciler's own budget claim
(`services.reconciling._claim_budget`) runs for the changesets at the head of the line until
the org's daily cap is spent (each granted), and then for changesets spread along the rest
of the line (each refused, with its ETA). Prints `name: value unit` lines and writes
bench/results/budget_claims.json.

    uv run python bench/budget_claims.py [--sizes 500 5000] [--cap 150] [--refused 60]

It creates throwaway databases `shoal_bench_<random>` through SHOAL_BENCH_PG_URL (default
postgresql://postgres@127.0.0.1:5432/postgres) and drops them afterwards.
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
import statistics
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime

import sqlalchemy as sa

from harness import fresh_database, note, write_figures
from shoal.blobs.filesystem import FilesystemObjectStore
from shoal.config import Settings
from shoal.domain.budgets import budget_day
from shoal.domain.changesets import ChangesetId, Desired
from shoal.domain.clock import FrozenClock
from shoal.observability.logs import configure_logging
from shoal.reconcile.gateway import GitHubWriter
from shoal.services import reconciling
from shoal.store import Database
from shoal.store import budget_queue as queue_store
from shoal.store import budgets as budget_store
from shoal.store import changesets as changeset_store
from shoal.store.tables import campaigns, changesets

RESULTS = Path(__file__).resolve().parent / "results" / "budget_claims.json"
NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)
CAMPAIGNS = 4
ORG = "acme"


def _desired(campaign: str) -> Desired:
    return Desired(
        publish=True,
        draft=False,
        base_branch="main",
        base_sha="0" * 40,
        default_branch="main",
        patch_key="patches/none",
        patch_sha256="0" * 64,
        title="bench",
        body="",
        labels=(),
        reviewers=(),
        team_reviewers=(),
        assignees=(),
        commit_message="bench",
        author_name="Shoal",
        author_email="shoal@example.com",
        campaign_name=campaign,
        spec_version=1,
        spec_hash="0" * 64,
        run_id=1,
        execution_id=1,
    )


def _seed(db: Database, waiting: int) -> list[ChangesetId]:
    """`waiting` changesets queued for a PR in one org, requested at once and inserted
    round-robin over the campaigns, so the id order is the order the budget serves them."""
    with db.transaction() as conn:
        ids = [
            int(
                conn.execute(
                    sa.insert(campaigns)
                    .values(name=f"bench-{n}", created_by="bench")
                    .returning(campaigns.c.id)
                ).scalar_one()
            )
            for n in range(CAMPAIGNS)
        ]
        rows = [
            {
                "campaign_id": ids[i % CAMPAIGNS],
                "repo": f"{ORG}/repo-{i:05d}",
                "org": ORG,
                "branch": "shoal/bench",
                "publish": True,
                "desired": _desired(f"bench-{i % CAMPAIGNS}").to_json(),
                "reconciler_state": "queued",
                "publish_requested_at": NOW,
            }
            for i in range(waiting)
        ]
        found = conn.execute(sa.insert(changesets).returning(changesets.c.id), rows).scalars()
        made = sorted(ChangesetId(int(i)) for i in found)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")
    return made


def _no_writer() -> GitHubWriter:
    raise AssertionError("a budget claim writes nothing to GitHub")


def _ms(seconds: list[float]) -> float:
    return statistics.median(seconds) * 1000


class Line:
    """One database with a line of `waiting` changesets, and the reconciler's dependencies."""

    def __init__(self, url: str, waiting: int, cap: int, tmp: Path) -> None:
        self.db = Database(url, pool_size=2)
        self.ids = _seed(self.db, waiting)
        self.settings = Settings(max_prs_per_day_per_org=cap)
        self.day = budget_day(NOW, self.settings.budget_timezone)
        self.deps = reconciling.ReconcileDeps(
            db=self.db,
            clock=FrozenClock(NOW),
            settings=self.settings,
            blobs=FilesystemObjectStore(tmp / "blobs"),
            writer=_no_writer,
            work_root=tmp,
        )
        with self.db.transaction() as conn:
            self.loaded = {i: changeset_store.get_changeset(conn, i) for i in self.ids}

    def claim(self, index: int) -> float:
        """The claim of the changeset at `index` in line, which must be granted."""
        started = time.perf_counter()
        reconciling._claim_budget(self.deps, self.loaded[self.ids[index]])
        return time.perf_counter() - started

    def refuse(self, index: int) -> tuple[float, float]:
        """The claim of the changeset at `index`, which must be refused (the cap is spent),
        and what of it ran under the org's budget lock, alone."""
        cid = self.ids[index]
        started = time.perf_counter()
        try:
            reconciling._claim_budget(self.deps, self.loaded[cid])
        except reconciling._Held:
            pass
        else:
            raise SystemExit(f"changeset {cid} claimed past the cap")
        refused = time.perf_counter() - started
        started = time.perf_counter()
        with self.db.transaction() as conn:
            budget_store.lock_budget_day(conn, ORG, self.day)
            used = budget_store.budget_usage(conn, [ORG], self.day)[ORG]
            queue_store.place(
                conn, cid, ORG, self.day, within=self.settings.max_prs_per_day_per_org - used
            )
        return refused, time.perf_counter() - started

    def used(self) -> int:
        with self.db.transaction() as conn:
            return budget_store.budget_usage(conn, [ORG], self.day)[ORG]


def measure(sizes: tuple[int, int], cap: int, refused: int) -> dict[str, float]:
    """Both lines side by side, their claims taking turns, so that whatever else the machine
    is doing weighs on both alike."""
    with ExitStack() as stack:
        lines = []
        for size in sizes:
            note(f"{size} changesets waiting, cap {cap}")
            url = stack.enter_context(fresh_database())
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            line = Line(url, size, cap, tmp)
            stack.callback(line.db.dispose)
            lines.append(line)
        granted: dict[int, list[float]] = {size: [] for size in sizes}
        for index in range(cap):
            for size, line in zip(sizes, lines, strict=True):
                granted[size].append(line.claim(index))
        refusals: dict[int, list[float]] = {size: [] for size in sizes}
        locked: dict[int, list[float]] = {size: [] for size in sizes}
        for n in range(refused):
            for size, line in zip(sizes, lines, strict=True):
                # Spread along the rest of the line, from just past the cap to its end.
                index = cap + (size - cap - 1) * n // max(refused - 1, 1)
                whole, under_lock = line.refuse(index)
                refusals[size].append(whole)
                locked[size].append(under_lock)
        for size, line in zip(sizes, lines, strict=True):
            if line.used() != cap:
                raise SystemExit(f"{line.used()} claims for a cap of {cap} ({size} waiting)")
        found = {}
        for size in sizes:
            found[f"claim_ms_{size}"] = _ms(granted[size])
            found[f"refused_locked_ms_{size}"] = _ms(locked[size])
            found[f"refused_ms_{size}"] = _ms(refusals[size])
        return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[500, 5000])
    parser.add_argument("--cap", type=int, default=150, help="the org's daily PR cap")
    parser.add_argument("--refused", type=int, default=60, help="refused claims timed")
    args = parser.parse_args()
    configure_logging("warning", "json")
    small, large = args.sizes
    found = measure((small, large), args.cap, args.refused)
    results: dict[str, dict[str, float | str]] = {}

    def put(name: str, value: float, unit: str) -> None:
        results[name] = {"value": round(value, 3), "unit": unit}

    for name, value in found.items():
        put(name, value, "ms")
    for figure in ("claim", "refused_locked"):
        ratio = found[f"{figure}_ms_{large}"] / found[f"{figure}_ms_{small}"]
        put(f"{figure}_ratio_{large}_to_{small}", ratio, "x")
    write_figures(results, RESULTS, value_format="")


if __name__ == "__main__":
    main()
