"""Every change of a changeset's state is recorded by the database itself, with the same
rules as the state derived in Python."""

from __future__ import annotations

import dataclasses
import itertools

import sqlalchemy as sa

from shoal.domain.changesets import ChangesetState, Observed, ReconcilerState, derive_state
from shoal.store import Database
from shoal.store import changeset_events as event_store
from shoal.store import changesets as changeset_store
from shoal.store.tables import campaigns, changesets
from tests.bulk.conftest import START, Progress


def test_the_sql_state_function_agrees_with_derive_state_on_every_combination(
    db: Database,
) -> None:
    combos = list(
        itertools.product(
            (None, "open", "closed", "merged"),  # the PR's state
            (None, 7),  # its number
            (False, True),  # draft
            (False, True),  # publish
            tuple(ReconcilerState),
            (None, "archived"),  # the repository's status
        )
    )
    expected: dict[int, ChangesetState] = {}
    with db.transaction() as conn:
        campaign = conn.execute(
            sa.insert(campaigns).values(name="c", created_by="t").returning(campaigns.c.id)
        ).scalar_one()
        for n, (pr_state, number, draft, publish, reconciler, repo_status) in enumerate(combos):
            observed = Observed(
                pr_state=pr_state, pr_number=number, draft=draft, repo_status=repo_status
            )
            row = conn.execute(
                sa.insert(changesets)
                .values(
                    campaign_id=campaign,
                    repo=f"acme/r{n}",
                    org="acme",
                    branch="b",
                    publish=publish,
                    observed=observed.to_json(),
                    pr_number=number,
                    reconciler_state=reconciler.value,
                )
                .returning(changesets.c.id)
            ).scalar_one()
            expected[row] = derive_state(publish, observed, reconciler)

    with db.transaction() as conn:
        in_sql = dict(
            conn.execute(sa.text("SELECT c.id, shoal_changeset_state(c) FROM changesets c")).all()
        )
        events = event_store.list_events(conn, campaign_id=campaign, limit=10_000)
    assert in_sql == {i: s.value for i, s in expected.items()}
    # Each insert recorded the state the changeset started in.
    assert {e.changeset_id: (e.from_state, e.to_state, e.reason) for e in events} == {
        i: (None, s.value, "created") for i, s in expected.items()
    }


def test_each_state_change_is_recorded_once_with_its_reason(progress: Progress) -> None:
    campaign = progress.campaign()
    cs = progress.publish(campaign, "acme/a")["acme/a"]
    progress.clock.advance(60)
    progress.opened(cs, 7)
    progress.clock.advance(60)
    progress.observe(cs, labels=("deps", "more"))  # no state change: nothing recorded
    progress.observe(cs, draft=True)
    progress.clock.advance(60)
    with progress.api.ctx.db.transaction() as conn:
        event_store.set_change_reason(conn, "bulk:9")
        current = changeset_store.get_changeset(conn, cs)
        changeset_store.record_observation(
            conn,
            cs,
            dataclasses.replace(current.observed, pr_state="closed"),
            now=progress.clock.now(),
        )
    progress.clock.advance(60)
    progress.observe(cs, pr_state="merged")

    with progress.api.ctx.db.transaction() as conn:
        events = event_store.list_events(conn, changeset_id=cs)
    minute = [(e.at - START).total_seconds() // 60 for e in events]
    assert [(e.from_state, e.to_state, e.reason) for e in events] == [
        (None, "scheduled", "created"),
        ("scheduled", "open", "pr_open"),
        ("open", "draft", "draft_changed"),
        ("draft", "closed", "bulk:9"),
        ("closed", "merged", "pr_merged"),
    ]
    assert minute == [0, 1, 2, 3, 4]
    assert {e.campaign_id for e in events} == {campaign}
