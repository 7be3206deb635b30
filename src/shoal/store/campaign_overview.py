"""What the UI reads about many campaigns at once, or about one campaign every second: state
counts of a page of campaigns in one grouped query, their burndowns in one more, and a cheap
fingerprint of a campaign's changesets and holds that says whether anything moved."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shoal.domain.changesets import ChangesetState
from shoal.store.changesets import state_expr
from shoal.store.controls import GLOBAL, campaign_scope
from shoal.store.tables import changeset_events, changesets, publish_controls

__all__ = ["Fingerprint", "burndowns", "fingerprint", "state_counts"]


def state_counts(
    conn: Connection, campaign_ids: Sequence[int]
) -> dict[int, dict[ChangesetState, int]]:
    """Each campaign's changesets by derived state, in one grouped query."""
    found: dict[int, dict[ChangesetState, int]] = {i: {} for i in campaign_ids}
    if not campaign_ids:
        return found
    state = state_expr().label("state")
    rows = conn.execute(
        sa.select(changesets.c.campaign_id, state, sa.func.count())
        .where(changesets.c.campaign_id.in_(list(campaign_ids)))
        .group_by(changesets.c.campaign_id, state)
    )
    for campaign_id, name, count in rows:
        found[campaign_id][ChangesetState(name)] = int(count)
    return found


# Each recorded change moves one changeset out of `from_state` and into `to_state`, so the
# number in a state at a moment is (changes into it) - (changes out of it) up to that moment.
# Summing those per day needs no window over each changeset's history: one pass over the
# events of every campaign asked, whatever their number.
_DELTAS = sa.text("""
SELECT e.campaign_id, width_bucket(e.at, CAST(:thresholds AS timestamptz[])) AS bucket,
       d.state, sum(d.delta)
FROM changeset_events e
CROSS JOIN LATERAL (VALUES (e.to_state, 1), (e.from_state, -1)) AS d(state, delta)
WHERE e.campaign_id = ANY(CAST(:ids AS bigint[])) AND e.at <= :last AND d.state IS NOT NULL
GROUP BY e.campaign_id, bucket, d.state
""")

_EPSILON = timedelta(microseconds=1)


def burndowns(
    conn: Connection, campaign_ids: Sequence[int], ends: Sequence[datetime]
) -> dict[int, list[dict[str, int]]]:
    """For each campaign, how many of its changesets were in each state at each of `ends`
    (ascending), as `changeset_events.burndown` counts them for one campaign."""
    found: dict[int, list[dict[str, int]]] = {i: [{} for _ in ends] for i in campaign_ids}
    if not campaign_ids or not ends:
        return found
    # width_bucket counts the thresholds <= at; a change at exactly a day's end belongs to
    # that day, so each threshold sits just after its end.
    thresholds = [end + _EPSILON for end in ends]
    deltas: dict[int, list[dict[str, int]]] = {i: [{} for _ in ends] for i in campaign_ids}
    rows = conn.execute(
        _DELTAS, {"ids": list(campaign_ids), "thresholds": thresholds, "last": max(ends)}
    )
    for campaign_id, bucket, state, delta in rows:
        day = deltas[campaign_id][int(bucket)]
        day[state] = day.get(state, 0) + int(delta)
    for campaign_id, days in deltas.items():
        running: dict[str, int] = {}
        for index, day in enumerate(days):
            for state, delta in day.items():
                running[state] = running.get(state, 0) + delta
            # A change recorded with an earlier time than the one before it (clock skew
            # between processes) could leave a state briefly below zero: never shown.
            found[campaign_id][index] = {s: n for s, n in running.items() if n > 0}
    return found


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """Changes when the campaign's counts or holds may have changed (`states`) or when any of
    its changesets was written (`rows`)."""

    states: tuple[object, ...]
    rows: tuple[object, ...]


def fingerprint(conn: Connection, campaign_id: int) -> Fingerprint:
    """One query of index probes (migration 0021): the campaign's last state change (every
    new changeset records one; changesets are never deleted), its changesets' last write, and
    its holds (global and its own)."""
    last_event = (
        sa.select(sa.func.max(changeset_events.c.id))
        .where(changeset_events.c.campaign_id == campaign_id)
        .scalar_subquery()
    )
    last_write = (
        sa.select(sa.func.max(changesets.c.updated_at))
        .where(changesets.c.campaign_id == campaign_id)
        .scalar_subquery()
    )

    def hold(scope: str) -> sa.ScalarSelect[str]:
        c = publish_controls.c
        return (
            sa.select(sa.func.concat_ws(":", c.killed, c.paused, c.updated_at))
            .where(c.scope == scope)
            .scalar_subquery()
        )

    event, held_global, held_campaign, written = conn.execute(
        sa.select(last_event, hold(GLOBAL), hold(campaign_scope(campaign_id)), last_write)
    ).one()
    return Fingerprint(states=(event, held_global, held_campaign), rows=(written,))
