"""Property: a changeset's place in its org's budget line, read by rank in SQL, is the place it
has in the whole line sorted as the budget serves it (round-robin across the campaigns, each
campaign's oldest request first, its turns counted on from its claims that day, held
campaigns taking no turn, changesets holding a claim not in line), whatever the mix of
states, PRs, claims and holds; read up to a bound, it is exact up to the bound and beyond it
above. The line is built here the plain way, from every row, as the reference."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Connection

from shoal.domain.changesets import ChangesetId, ReconcilerState
from shoal.store import Database, budget_queue
from shoal.store.tables import budget_ledger, campaigns, changesets, publish_controls

TODAY = date(2026, 3, 2)
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
CAMPAIGNS = 3
PER_CAMPAIGN = 7
IN_LINE_STATES = {
    ReconcilerState.QUEUED.value,
    ReconcilerState.WAITING.value,
    ReconcilerState.PROCESSING.value,
}


@dataclass(frozen=True)
class Row:
    publish: bool
    has_pr: bool
    state: str
    requested: int  # minutes after T0: few values, so requests tie and the id decides
    claim: date | None  # the day of its budget claim, if it holds one


@dataclass(frozen=True)
class World:
    rows: tuple[Row, ...]  # one per seeded changeset, in id order
    holds: tuple[str | None, ...]  # per campaign: None, "paused" or "killed"


@dataclass(frozen=True)
class Seed:
    campaigns: tuple[int, ...]
    changesets: tuple[tuple[int, int, str], ...]  # (id, campaign id, org)


@pytest.fixture
def seed(db: Database) -> Seed:
    with db.transaction() as conn:
        ids = tuple(
            int(
                conn.execute(
                    sa.insert(campaigns)
                    .values(name=f"c{n}", created_by="test")
                    .returning(campaigns.c.id)
                ).scalar_one()
            )
            for n in range(CAMPAIGNS)
        )
        made = []
        for campaign in ids:
            for i in range(PER_CAMPAIGN):
                # The last of each campaign is in another org: never in acme's line.
                org = "globex" if i == PER_CAMPAIGN - 1 else "acme"
                cid = conn.execute(
                    sa.insert(changesets)
                    .values(campaign_id=campaign, repo=f"{org}/r{i}", org=org, branch="b")
                    .returning(changesets.c.id)
                ).scalar_one()
                made.append((int(cid), campaign, org))
    return Seed(ids, tuple(made))


ROW = st.builds(
    Row,
    publish=st.sampled_from([True, True, True, False]),
    has_pr=st.sampled_from([False, False, False, True]),
    state=st.sampled_from([s.value for s in ReconcilerState] + ["queued", "waiting"]),
    requested=st.integers(0, 3),
    claim=st.sampled_from([None, None, None, TODAY, TODAY - timedelta(days=1)]),
)
WORLDS = st.builds(
    World,
    rows=st.lists(ROW, min_size=CAMPAIGNS * PER_CAMPAIGN, max_size=CAMPAIGNS * PER_CAMPAIGN).map(
        tuple
    ),
    holds=st.lists(
        st.sampled_from([None, None, "paused", "killed"]), min_size=CAMPAIGNS, max_size=CAMPAIGNS
    ).map(tuple),
)


def _apply(conn: Connection, seed: Seed, world: World) -> None:
    conn.execute(sa.delete(budget_ledger))
    conn.execute(sa.delete(publish_controls))
    for (cid, campaign, org), row in zip(seed.changesets, world.rows, strict=True):
        conn.execute(
            changesets.update()
            .where(changesets.c.id == cid)
            .values(
                publish=row.publish,
                pr_number=cid if row.has_pr else None,
                reconciler_state=row.state,
                publish_requested_at=T0 + timedelta(minutes=row.requested),
            )
        )
        if row.claim is not None:
            conn.execute(
                sa.insert(budget_ledger).values(
                    changeset_id=cid, org=org, day=row.claim, campaign_id=campaign, claimed_at=T0
                )
            )
    for campaign, hold in zip(seed.campaigns, world.holds, strict=True):
        if hold is not None:
            conn.execute(
                sa.insert(publish_controls).values(
                    scope=f"campaign:{campaign}",
                    killed=hold == "killed",
                    paused=hold == "paused",
                    updated_by="test",
                )
            )


def _line(seed: Seed, world: World, *, counting: int | None = None) -> list[int]:
    """acme's line on TODAY, built from every row: the reference."""
    held = {c for c, h in zip(seed.campaigns, world.holds, strict=True) if h is not None}
    rows = list(zip(seed.changesets, world.rows, strict=True))
    claimed = Counter(
        campaign for (_, campaign, org), row in rows if org == "acme" and row.claim == TODAY
    )
    waiting = sorted(
        (
            (row.requested, cid, campaign)
            for (cid, campaign, org), row in rows
            if org == "acme"
            and row.publish
            and not row.has_pr
            and row.state in IN_LINE_STATES
            and row.claim is None
            and (campaign not in held or campaign == counting)
        ),
    )
    turns: Counter[int] = Counter()
    keyed = []
    for _, cid, campaign in waiting:
        turns[campaign] += 1
        keyed.append((turns[campaign] + claimed[campaign], campaign, cid))
    return [cid for _, _, cid in sorted(keyed)]


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=WORLDS, within=st.integers(0, 12))
def test_a_place_read_by_rank_is_its_place_in_the_whole_line(
    db: Database, seed: Seed, world: World, within: int
) -> None:
    with db.transaction() as conn:
        _apply(conn, seed, world)
    line = _line(seed, world)
    used = sum(
        row.claim == TODAY
        for (_, _, org), row in zip(seed.changesets, world.rows, strict=True)
        if org == "acme"
    )
    with db.transaction() as conn:
        for cid, _, org in seed.changesets:
            if org != "acme":
                continue
            expected = line.index(cid) + 1 if cid in line else None
            exact = budget_queue.place(conn, ChangesetId(cid), "acme", TODAY, within=None)
            bounded = budget_queue.place(conn, ChangesetId(cid), "acme", TODAY, within=within)
            if expected is None:
                assert exact is None and bounded is None, cid
                continue
            assert exact == budget_queue.Place(expected, used), (cid, line)
            assert bounded is not None and bounded.used == used
            if expected <= within:
                assert bounded.place == expected, (cid, line)
            else:
                assert bounded.place > within, (cid, line, bounded)
        for campaign in seed.campaigns:
            counted = _line(seed, world, counting=campaign)
            mine = {cid for cid, c, _ in seed.changesets if c == campaign}
            fitting = [cid for cid in counted[:within] if cid in mine]
            found = budget_queue.in_line_within(conn, "acme", TODAY, campaign, within=within)
            assert found == fitting, (campaign, counted)


def test_the_line_is_read_through_its_index(db: Database, seed: Seed) -> None:
    """The counts can walk the partial index of changesets waiting: its predicate matches the
    statement's (a table this small is read whole unless told otherwise)."""
    with db.transaction() as conn:
        conn.execute(
            changesets.update().values(
                publish=True, reconciler_state="queued", publish_requested_at=T0
            )
        )
        conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            conn.execute(
                sa.text(f"EXPLAIN {budget_queue._PLACE.text}"),
                {"org": "acme", "day": TODAY, "changeset": seed.changesets[0][0], "within": 5},
            ).scalars()
        )
    assert "ix_changesets_budget_queue" in plan, plan
