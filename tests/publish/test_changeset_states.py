"""The state users see, derived in SQL (for filters, pages and counts) and in Python (on a
changeset read back), agree on every combination of what is stored."""

from __future__ import annotations

import itertools
from collections import Counter

import sqlalchemy as sa

from shoal.domain.changesets import ChangesetState, Observed, ReconcilerState, derive_state
from shoal.store import Database
from shoal.store import changesets as changeset_store
from shoal.store.tables import campaigns, changesets


def test_sql_and_python_derive_the_same_state(db: Database) -> None:
    combos = list(
        itertools.product(
            (None, "open", "closed", "merged"),  # the PR's state
            (None, 7),  # its number
            (False, True),  # draft
            (False, True),  # publish
            tuple(ReconcilerState),
        )
    )
    expected: dict[int, ChangesetState] = {}
    with db.transaction() as conn:
        campaign = conn.execute(
            sa.insert(campaigns).values(name="c", created_by="t").returning(campaigns.c.id)
        ).scalar_one()
        for n, (pr_state, number, draft, publish, reconciler) in enumerate(combos):
            observed = Observed(pr_state=pr_state, pr_number=number, draft=draft)
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
        for state in ChangesetState:
            found = changeset_store.list_changesets(
                conn,
                changeset_store.ChangesetFilter(
                    campaign_id=campaign, states=(state,), limit=10_000
                ),
            )
            assert {c.id for c in found} == {i for i, s in expected.items() if s is state}, state
            assert {c.state for c in found} <= {state}
        summary = changeset_store.summarize(conn, campaign)
    assert summary.counts == dict(Counter(expected.values()))
    assert summary.total == len(combos)
