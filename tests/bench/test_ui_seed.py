"""The seeding of `bench/ui.py` at a small scale, so that it keeps working as the schema moves:
the states it means to write are the states Shoal derives from the rows, the run's counters
agree with its executions, and the burndown has a history to draw."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from bench.ui_seed import seed_campaign

from shoal.domain.changesets import ChangesetState
from shoal.store import Database
from shoal.store import campaigns as campaign_store
from shoal.store import changesets as changeset_store
from shoal.store import runs as run_store
from shoal.store.tables import changeset_events, diff_files

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def test_seeded_campaign_reads_back_as_seeded(db: Database) -> None:
    seeded = seed_campaign(db, name="seeded", changesets_count=120, now=NOW, batch=60)
    repos = 120 + 12

    with db.transaction() as conn:
        campaign = campaign_store.get_campaign(conn, "seeded")
        summary = changeset_store.summarize(conn, campaign.id)
        progress = run_store.run_progress(conn, run_store.RunId(seeded.run_id))
        versions = campaign_store.list_spec_versions(conn, campaign.id)
        events = conn.execute(
            sa.select(changeset_events.c.to_state, sa.func.count())
            .where(changeset_events.c.campaign_id == campaign.id)
            .group_by(changeset_events.c.to_state)
        ).all()
        files = conn.execute(sa.select(sa.func.count()).select_from(diff_files)).scalar_one()

    assert campaign.latest_version == 3 and [v.version for v in versions] == [1, 2, 3]
    assert summary.total == 120
    assert summary.counts == {state: n for state, n in seeded.states.items() if n}
    # A realistic mix: most states are present even at this size.
    assert len(summary.counts) >= 7, summary.counts
    assert progress.targets == progress.included == repos
    assert progress.by_state == {state: n for state, n in seeded.executions.items() if n}
    assert files >= seeded.executions["patch"]
    # Every changeset was created (scheduled or unpublished) and each published one then
    # moved to its final state: the history the burndown reads.
    recorded = dict(events)
    moved = sum(n for s, n in seeded.states.items() if s is not ChangesetState.UNPUBLISHED)
    assert sum(recorded.values()) == 120 + moved - seeded.states[ChangesetState.SCHEDULED]
    assert recorded[ChangesetState.MERGED.value] == seeded.states[ChangesetState.MERGED]


def test_seeding_is_deterministic(db: Database) -> None:
    first = seed_campaign(db, name="one", changesets_count=40, now=NOW)
    second = seed_campaign(db, name="two", changesets_count=40, now=NOW)
    assert first.states == second.states and first.executions == second.executions
