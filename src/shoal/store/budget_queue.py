"""An org's line for its daily PR budget, read by rank instead of whole.

The changesets of an org asked to open a PR and holding no budget claim yet wait in one line,
served round-robin across the campaigns sharing the org: a campaign's requests go oldest
first, and its turns on a budget day start after the claims it already made that day (or the
campaign that claimed first would be first again for the rest of the day). A paused or killed
campaign takes no turn. Turn by turn, campaigns go in id order.

So a campaign D with `claimed` claims today and `n` changesets in line holds turns
`claimed + 1 .. claimed + n`, and the changeset at turn `t` of campaign C has ahead of it,
from each other campaign D, its changesets with a turn before `t` (or at `t` too, for D < C):
`min(n, max(0, t - claimed - (1 if D > C else 0)))`. Counting that needs no one's place but
its own: each campaign's count is bounded by the turn asked about, and by `within` when the
caller only needs to know whether the place is within the budget left today. The counts walk
`ix_changesets_budget_queue` (0013), a partial index over the changesets still waiting, and
the distinct campaigns in the line are found by skipping through it campaign by campaign.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shoal.domain.changesets import ChangesetId, ReconcilerState

__all__ = ["CampaignLine", "Place", "campaign_lines", "holding_claims", "in_line_within", "place"]

# The statements below are put together from this module's constants only (aliases, the
# states' names), never from input: every value is a bound parameter (hence the S608 noqa).
# The states are inlined, not bound, so that the planner can match the partial index.
_STATES = ", ".join(
    f"'{s.value}'"
    for s in (ReconcilerState.QUEUED, ReconcilerState.WAITING, ReconcilerState.PROCESSING)
)


def _waiting(q: str) -> str:
    """`q` (a changesets alias) waits for a PR: the predicate of ix_changesets_budget_queue,
    written the same way (and with constants) so the planner can use the index."""
    return f"{q}.publish AND {q}.pr_number IS NULL AND {q}.reconciler_state IN ({_STATES})"


def _in_line(q: str) -> str:
    """`q` is in the org's line: waiting, and holding no claim (a claim is counted in the
    budget used, and a changeset holding one gets it back without queueing again)."""
    return (
        f"{q}.org = :org AND {_waiting(q)} AND NOT EXISTS "  # noqa: S608
        f"(SELECT 1 FROM budget_ledger l WHERE l.changeset_id = {q}.id)"
    )


def _held(campaign: str) -> str:
    """The campaign is paused or its kill switch is on: it takes no turn."""
    return (
        "EXISTS (SELECT 1 FROM publish_controls p "  # noqa: S608
        f"WHERE p.scope = 'campaign:' || {campaign} AND (p.killed OR p.paused))"
    )


# Today's claims per campaign of the org (at most the org's cap of rows), and the campaigns
# with changesets in line, one index probe each (a "skip scan": the first campaign id, then
# the first one above it, and so on), rather than a DISTINCT over the whole line.
_LINE_CTES = f"""
claimed AS (
    SELECT campaign_id, count(*) AS n FROM budget_ledger
    WHERE org = :org AND day = :day GROUP BY campaign_id
),
lines(campaign_id) AS (
    (SELECT q.campaign_id FROM changesets q WHERE q.org = :org AND {_waiting("q")}
     ORDER BY q.campaign_id LIMIT 1)
    UNION ALL
    SELECT (SELECT q.campaign_id FROM changesets q
            WHERE q.org = :org AND {_waiting("q")} AND q.campaign_id > w.campaign_id
            ORDER BY q.campaign_id LIMIT 1)
    FROM lines w WHERE w.campaign_id IS NOT NULL
)
"""  # noqa: S608

# The place of one changeset in its org's line (1 = next), and the org's claims that day.
# Its rank in its campaign is counted walking the index backwards from it: a row comparison
# only bounds a scan by its first column, and one publish request gives all its changesets
# the same request time, so a forward scan would read the campaign's whole line.
# No row when it is not in line: it holds a claim already, its campaign is held, or it no
# longer waits. `within` (NULL: no bound) caps every count, so the place is exact up to
# `within` and only known to be beyond it above.
_PLACE = sa.text(
    f"""
WITH RECURSIVE {_LINE_CTES},
me AS (
    SELECT x.id, x.campaign_id, x.publish_requested_at AS at,
           coalesce((SELECT n FROM claimed WHERE claimed.campaign_id = x.campaign_id), 0)
               AS claimed
    FROM changesets x
    WHERE x.id = :changeset AND {_in_line("x")} AND NOT {_held("x.campaign_id")}
),
mine AS (
    SELECT me.campaign_id, me.claimed,
           1 + (SELECT count(*) FROM (
                    SELECT 1 FROM changesets q
                    WHERE q.campaign_id = me.campaign_id AND {_in_line("q")}
                      AND (q.publish_requested_at, q.id) < (me.at, me.id)
                    ORDER BY q.publish_requested_at DESC, q.id DESC
                    LIMIT CAST(:within AS bigint)) before) AS rank
    FROM me
),
ahead AS (
    SELECT (SELECT count(*) FROM (
                SELECT 1 FROM changesets q
                WHERE q.campaign_id = w.campaign_id AND {_in_line("q")}
                LIMIT least(
                    greatest(
                        mine.rank + mine.claimed - coalesce(c.n, 0)
                            - (w.campaign_id > mine.campaign_id)::int,
                        0),
                    CAST(:within AS bigint))) theirs) AS n
    FROM mine CROSS JOIN lines w LEFT JOIN claimed c ON c.campaign_id = w.campaign_id
    WHERE w.campaign_id IS NOT NULL AND w.campaign_id <> mine.campaign_id
      AND NOT {_held("w.campaign_id")}
)
SELECT mine.rank + coalesce((SELECT sum(n) FROM ahead), 0) AS place,
       coalesce((SELECT sum(n) FROM claimed), 0) AS used
FROM mine
"""  # noqa: S608
)

# Per campaign in line (held ones left out, but for `counting`): today's claims and how many
# changesets it has in line, counted up to `within`.
_LINES = sa.text(
    f"""
WITH RECURSIVE {_LINE_CTES}
SELECT w.campaign_id, coalesce(c.n, 0) AS claimed,
       (SELECT count(*) FROM (
            SELECT 1 FROM changesets q WHERE q.campaign_id = w.campaign_id AND {_in_line("q")}
            LIMIT CAST(:within AS bigint)) theirs) AS waiting
FROM lines w LEFT JOIN claimed c ON c.campaign_id = w.campaign_id
WHERE w.campaign_id IS NOT NULL
  AND (w.campaign_id = :counting OR NOT {_held("w.campaign_id")})
ORDER BY w.campaign_id
"""  # noqa: S608
)

# The first `within` changesets of one campaign in its org's line, in turn order.
_FIRST = sa.text(
    f"""
SELECT q.id FROM changesets q
WHERE q.campaign_id = :campaign AND {_in_line("q")}
ORDER BY q.publish_requested_at, q.id
LIMIT :within
"""  # noqa: S608
)


@dataclass(frozen=True, slots=True)
class Place:
    place: int  # 1 = next in line; beyond `within`, only known to be more than it
    used: int  # the org's claims on the budget day, read in the same snapshot


def place(
    conn: Connection, changeset_id: ChangesetId, org: str, day: date, *, within: int | None
) -> Place | None:
    """Where the changeset stands in its org's line on budget day `day`, or None when it is
    not in line. One statement, so the place and `used` are one consistent picture; its cost
    grows with the place asked about (bounded by `within`), not with the line."""
    row = conn.execute(
        _PLACE,
        {
            "org": org,
            "day": day,
            "changeset": changeset_id,
            "within": None if within is None else max(within, 0),
        },
    ).first()
    return None if row is None else Place(int(row.place), int(row.used))


@dataclass(frozen=True, slots=True)
class CampaignLine:
    campaign_id: int
    claimed: int  # claims the campaign made in the org on the budget day
    waiting: int  # its changesets in line, counted up to the `within` asked


def campaign_lines(
    conn: Connection, org: str, day: date, *, within: int, counting: int | None = None
) -> list[CampaignLine]:
    """The campaigns taking turns in the org's line (a held `counting` campaign too)."""
    rows = conn.execute(
        _LINES, {"org": org, "day": day, "within": max(within, 0), "counting": counting}
    )
    return [CampaignLine(int(c), int(n), int(w)) for c, n, w in rows]


def in_line_within(
    conn: Connection, org: str, day: date, campaign_id: int, *, within: int
) -> list[ChangesetId]:
    """The campaign's changesets whose place in the org's line is at most `within` (the
    budget left today), counting the campaign's turns even while it is held."""
    if within < 1:
        return []
    lines = campaign_lines(conn, org, day, within=within, counting=campaign_id)
    mine = next((line for line in lines if line.campaign_id == campaign_id), None)
    if mine is None:
        return []
    ids = [
        ChangesetId(int(i))
        for i in conn.execute(
            _FIRST, {"org": org, "campaign": campaign_id, "within": within}
        ).scalars()
    ]
    others = [line for line in lines if line.campaign_id != campaign_id]
    fitting = []
    for rank, changeset_id in enumerate(ids, 1):
        turn = mine.claimed + rank
        ahead = sum(
            min(d.waiting, max(0, turn - d.claimed - (d.campaign_id > campaign_id))) for d in others
        )
        if rank + ahead > within:
            break  # places only grow along the campaign's line
        fitting.append(changeset_id)
    return fitting


def holding_claims(conn: Connection, changeset_ids: Sequence[ChangesetId]) -> int:
    """How many of the changesets hold a budget claim already (from any day)."""
    if not changeset_ids:
        return 0
    return int(
        conn.execute(
            sa.text("SELECT count(*) FROM budget_ledger WHERE changeset_id = ANY(:ids)"),
            {"ids": list(changeset_ids)},
        ).scalar_one()
    )
