"""Changesets: desired, observed and reconciler state per (campaign, repo, branch)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection, RowMapping

from shoal.domain.changesets import (
    Changeset,
    ChangesetId,
    ChangesetState,
    Desired,
    Observed,
    ReconcilerState,
)
from shoal.domain.errors import NotFoundError
from shoal.domain.globs import glob_to_regex
from shoal.store.tables import changesets, publish_batches

__all__ = [
    "ATTENTION_STATES",
    "ChangesetFilter",
    "ChangesetSummary",
    "NewChangeset",
    "OrgQueue",
    "budget_waiters_sharing_orgs",
    "changeset_from_row",
    "claim_open",
    "close_write_fence",
    "count_by_spec_version",
    "find_for_pull",
    "get_changeset",
    "hold_write_fence",
    "list_changesets",
    "lock_campaign_opens",
    "move_branch",
    "needing_attention",
    "next_publish_batch",
    "open_or_claimed",
    "org_queues",
    "record_observation",
    "record_observed",
    "release_write_fence",
    "set_desired",
    "set_drift",
    "set_pending",
    "set_reconciler_state",
    "set_reexecute_after",
    "set_warnings",
    "state_expr",
    "summarize",
    "upsert_for_publish",
    "waiting_for_budget",
    "waiting_for_open_place",
]


# Desired fields set by bulk actions rather than by publish (see `Desired`).
BULK_REQUESTS = ("close", "delete_branch", "comments", "update_branch")


@dataclass(frozen=True, slots=True)
class NewChangeset:
    repo: str
    org: str
    branch: str
    installation_id: int | None
    repo_github_id: int | None
    desired: Desired


@dataclass(frozen=True, slots=True)
class ChangesetFilter:
    campaign_id: int | None = None
    org: str | None = None
    repo_glob: str | None = None
    reconciler_states: tuple[ReconcilerState, ...] = ()
    publish: bool | None = None
    states: tuple[ChangesetState, ...] = ()  # derived states, as users see them
    publish_batch: int | None = None
    after_id: int | None = None
    limit: int = 1000


def changeset_from_row(row: RowMapping) -> Changeset:
    desired = Desired.from_json(row["desired"]) if row["desired"] else None
    return Changeset(
        id=ChangesetId(row["id"]),
        campaign_id=row["campaign_id"],
        repo=row["repo"],
        org=row["org"],
        branch=row["branch"],
        installation_id=row["installation_id"],
        repo_github_id=row["repo_github_id"],
        publish=row["publish"],
        desired=desired,
        observed=Observed.from_json(row["observed"] or {}),
        pr_number=row["pr_number"],
        reconciler_state=ReconcilerState(row["reconciler_state"]),
        failure_reason=row["failure_reason"],
        failure_message=row["failure_message"],
        attempts=row["attempts"],
        budget_eta=row["budget_eta"],
        publish_requested_at=row["publish_requested_at"],
        published_at=row["published_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        pending_operation=row["pending_operation"],
        pending_since=row["pending_since"],
        warnings=tuple(row["warnings"] or ()),
        publish_batch=row["publish_batch"],
        drift=row["drift"],
    )


def state_expr() -> sa.ColumnElement[str]:
    """`derive_state` in SQL, so that filters, pages and counts by the state users see run
    in the database rather than over every row in Python."""
    pr_state = changesets.c.observed["pr_state"].astext
    draft = changesets.c.observed["draft"].as_boolean()
    reconciler = changesets.c.reconciler_state
    return sa.case(
        (pr_state == "merged", ChangesetState.MERGED.value),
        (pr_state == "closed", ChangesetState.CLOSED.value),
        (changesets.c.drift.is_not(None), ChangesetState.NEEDS_HUMAN.value),
        (reconciler == ReconcilerState.FAILED.value, ChangesetState.FAILED.value),
        (
            changesets.c.pr_number.is_not(None),
            sa.case((draft, ChangesetState.DRAFT.value), else_=ChangesetState.OPEN.value),
        ),
        (sa.not_(changesets.c.publish), ChangesetState.UNPUBLISHED.value),
        (reconciler == ReconcilerState.PROCESSING.value, ChangesetState.PUBLISHING.value),
        else_=ChangesetState.SCHEDULED.value,
    )


def next_publish_batch(conn: Connection) -> int:
    """A new publish request's number (see `ChangesetFilter.publish_batch`)."""
    return int(conn.execute(sa.select(publish_batches.next_value())).scalar_one())


def upsert_for_publish(
    conn: Connection,
    campaign_id: int,
    new: Sequence[NewChangeset],
    *,
    now: datetime,
    batch: int | None = None,
) -> list[ChangesetId]:
    """Set the desired state to 'published' for each repo; observed state is kept, and so
    are the requests of bulk actions not carried out yet (close, comments, update-branch).

    A changeset that failed is queued again; one already open keeps its PR (the reconciler
    brings it up to date with the new desired state). Its warnings are kept while the
    desired state is the same (what GitHub refused is not asked again), and dropped when it
    changes (a new spec or preview may have fixed them)."""
    if not new:
        return []
    stmt = insert(changesets).values(
        [
            {
                "campaign_id": campaign_id,
                "repo": c.repo,
                "org": c.org,
                "branch": c.branch,
                "installation_id": c.installation_id,
                "repo_github_id": c.repo_github_id,
                "publish": True,
                "desired": c.desired.to_json(),
                "reconciler_state": ReconcilerState.QUEUED.value,
                "publish_requested_at": now,
                "publish_batch": batch,
                "created_at": now,
                "updated_at": now,
            }
            for c in new
        ]
    )
    # What bulk actions asked of the PR (close, comments, a branch update) is not the spec's
    # to drop: a re-publish keeps it, with the new spec's desired state around it.
    kept = sa.func.jsonb_strip_nulls(
        sa.func.jsonb_build_object(
            *[
                part
                for key in BULK_REQUESTS
                for part in (sa.literal(key), changesets.c.desired[key])
            ]
        )
    )
    desired = stmt.excluded.desired.op("||")(kept)
    upsert = stmt.on_conflict_do_update(
        index_elements=["campaign_id", "repo", "branch"],
        set_={
            "publish": True,
            "desired": desired,
            # Publishing again takes the PR back from a human (drift flagged needs_human).
            "drift": sa.null(),  # SQL NULL: None would be stored as JSON null
            "installation_id": stmt.excluded.installation_id,
            "reconciler_state": ReconcilerState.QUEUED.value,
            "failure_reason": None,
            "failure_message": None,
            "publish_batch": stmt.excluded.publish_batch,
            "warnings": sa.case(
                (changesets.c.desired == desired, changesets.c.warnings),
                else_=sa.text("'[]'::jsonb"),
            ),
            "publish_requested_at": sa.func.coalesce(
                changesets.c.publish_requested_at, stmt.excluded.publish_requested_at
            ),
            "updated_at": now,
        },
    ).returning(changesets.c.id)
    return [ChangesetId(i) for i in conn.execute(upsert).scalars()]


def get_changeset(conn: Connection, changeset_id: ChangesetId, *, lock: bool = False) -> Changeset:
    query = sa.select(changesets).where(changesets.c.id == changeset_id)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    if row is None:
        raise NotFoundError(f"changeset {changeset_id} does not exist")
    return changeset_from_row(row)


def find_for_pull(
    conn: Connection,
    repo: str,
    *,
    number: int | None = None,
    branch: str | None = None,
    lock: bool = False,
) -> list[Changeset]:
    """The changesets a pull request of `repo` belongs to: by its number, or by its head
    branch (a PR Shoal has not recorded yet). Repository names compare case-insensitively,
    as GitHub's do."""
    if number is None and branch is None:
        return []
    match = []
    if number is not None:
        match.append(changesets.c.pr_number == number)
    if branch is not None:
        match.append(changesets.c.branch == branch)
    query = (
        sa.select(changesets)
        .where(sa.func.lower(changesets.c.repo) == repo.lower(), sa.or_(*match))
        .order_by(changesets.c.id)
    )
    if lock:
        query = query.with_for_update()
    return [changeset_from_row(row) for row in conn.execute(query).mappings()]


def list_changesets(conn: Connection, flt: ChangesetFilter) -> list[Changeset]:
    query = sa.select(changesets).order_by(changesets.c.id).limit(flt.limit)
    if flt.campaign_id is not None:
        query = query.where(changesets.c.campaign_id == flt.campaign_id)
    if flt.org is not None:
        query = query.where(sa.func.lower(changesets.c.org) == flt.org.lower())
    if flt.repo_glob:
        query = query.where(changesets.c.repo.op("~*")(glob_to_regex(flt.repo_glob)))
    if flt.reconciler_states:
        query = query.where(
            changesets.c.reconciler_state.in_([s.value for s in flt.reconciler_states])
        )
    if flt.publish is not None:
        query = query.where(changesets.c.publish.is_(flt.publish))
    if flt.states:
        query = query.where(state_expr().in_([s.value for s in flt.states]))
    if flt.publish_batch is not None:
        query = query.where(changesets.c.publish_batch == flt.publish_batch)
    if flt.after_id is not None:
        query = query.where(changesets.c.id > flt.after_id)
    return [changeset_from_row(row) for row in conn.execute(query).mappings()]


def set_reconciler_state(
    conn: Connection,
    changeset_id: ChangesetId,
    state: ReconcilerState,
    *,
    now: datetime,
    failure_reason: str | None = None,
    failure_message: str | None = None,
    budget_eta: datetime | None = None,
    count_attempt: bool = False,
) -> None:
    values: dict[str, Any] = {
        "reconciler_state": state.value,
        "failure_reason": failure_reason,
        "failure_message": failure_message,
        "budget_eta": budget_eta,
        "updated_at": now,
    }
    if count_attempt:
        values["attempts"] = changesets.c.attempts + 1
    conn.execute(changesets.update().where(changesets.c.id == changeset_id).values(**values))


def set_warnings(
    conn: Connection,
    changeset_id: ChangesetId,
    warnings: Sequence[dict[str, str]],
    *,
    now: datetime,
) -> None:
    conn.execute(
        changesets.update()
        .where(changesets.c.id == changeset_id)
        .values(warnings=list(warnings), updated_at=now)
    )


def record_observed(
    conn: Connection, changeset_id: ChangesetId, observed: Observed, *, now: datetime
) -> None:
    values: dict[str, Any] = {
        "observed": observed.to_json(),
        "pr_number": observed.pr_number,
        "updated_at": now,
        "pending_operation": None,
        "pending_since": None,
    }
    if observed.pr_number is not None:
        values["published_at"] = sa.func.coalesce(changesets.c.published_at, now)
    conn.execute(changesets.update().where(changesets.c.id == changeset_id).values(**values))


def record_observation(
    conn: Connection, changeset_id: ChangesetId, observed: Observed, *, now: datetime
) -> None:
    """Store what a read of GitHub showed (webhook, sync). Unlike `record_observed`, which
    follows Shoal's own writes, it leaves the note of a write in progress alone."""
    values: dict[str, Any] = {
        "observed": observed.to_json(),
        "pr_number": observed.pr_number,
        "updated_at": now,
    }
    conn.execute(changesets.update().where(changesets.c.id == changeset_id).values(**values))


def waiting_for_budget(conn: Connection, org: str) -> list[ChangesetId]:
    """Changesets of `org` held back until a budget ETA (by id)."""
    rows = conn.execute(
        sa.select(changesets.c.id)
        .where(
            changesets.c.org == org,
            changesets.c.publish.is_(True),
            changesets.c.pr_number.is_(None),
            changesets.c.reconciler_state == ReconcilerState.WAITING.value,
            changesets.c.budget_eta.is_not(None),
        )
        .order_by(changesets.c.id)
    )
    return [ChangesetId(r.id) for r in rows]


def set_pending(
    conn: Connection, changeset_id: ChangesetId, operation: str | None, *, now: datetime
) -> None:
    """Note the GitHub write about to start (or, with None, that none is in progress); its
    result, recorded by `record_observed`, clears the note."""
    conn.execute(
        changesets.update()
        .where(changesets.c.id == changeset_id)
        .values(pending_operation=operation, pending_since=now if operation else None)
    )


def budget_waiters_sharing_orgs(conn: Connection, campaign_id: int) -> list[ChangesetId]:
    """Changesets of other campaigns waiting for a budget ETA in the orgs `campaign_id`
    publishes to: a pause or kill of that campaign may give them its turns today."""
    orgs = sa.select(changesets.c.org).where(changesets.c.campaign_id == campaign_id)
    rows = conn.execute(
        sa.select(changesets.c.id)
        .where(
            changesets.c.org.in_(orgs),
            changesets.c.campaign_id != campaign_id,
            changesets.c.publish.is_(True),
            changesets.c.pr_number.is_(None),
            changesets.c.reconciler_state == ReconcilerState.WAITING.value,
            changesets.c.budget_eta.is_not(None),
        )
        .order_by(changesets.c.id)
    )
    return [ChangesetId(r.id) for r in rows]


@dataclass(frozen=True, slots=True)
class ChangesetSummary:
    """Counts of a campaign's changesets (or of one publish request's), for following a
    publish without fetching every changeset."""

    total: int
    counts: dict[ChangesetState, int]
    settled: int  # nothing left to do now: done, failed, or waiting for a later budget day
    waiting_for_budget: int
    with_warnings: int
    next_eta: datetime | None
    reconciler: dict[ReconcilerState, int] = field(default_factory=dict)  # what it is doing


def summarize(conn: Connection, campaign_id: int, *, batch: int | None = None) -> ChangesetSummary:
    state = state_expr().label("state")
    reconciler = changesets.c.reconciler_state
    settled = sa.or_(
        reconciler.in_(
            [
                ReconcilerState.COMPLETED.value,
                ReconcilerState.FAILED.value,
                ReconcilerState.IDLE.value,
            ]
        ),
        sa.and_(
            reconciler == ReconcilerState.WAITING.value, changesets.c.failure_reason == "budget"
        ),
    )
    budget = sa.and_(
        reconciler == ReconcilerState.WAITING.value, changesets.c.failure_reason == "budget"
    )
    query = (
        sa.select(
            state,
            sa.func.count(),
            sa.func.count().filter(settled),
            sa.func.count().filter(budget),
            sa.func.count().filter(sa.func.jsonb_array_length(changesets.c.warnings) > 0),
            sa.func.min(changesets.c.budget_eta),
            reconciler,
        )
        .where(changesets.c.campaign_id == campaign_id)
        .group_by(state, reconciler)
    )
    if batch is not None:
        query = query.where(changesets.c.publish_batch == batch)
    counts: dict[ChangesetState, int] = {}
    doing: dict[ReconcilerState, int] = {}
    total = done = waiting = warned = 0
    etas: list[datetime] = []
    for name, count, n_settled, n_budget, n_warned, eta, rstate in conn.execute(query):
        counts[ChangesetState(name)] = counts.get(ChangesetState(name), 0) + int(count)
        doing[ReconcilerState(rstate)] = doing.get(ReconcilerState(rstate), 0) + int(count)
        total += int(count)
        done += int(n_settled)
        waiting += int(n_budget)
        warned += int(n_warned)
        if eta is not None:
            etas.append(eta)
    return ChangesetSummary(
        total, counts, done, waiting, warned, min(etas) if etas else None, doing
    )


# What a human has to look at: the derived states `needing_attention` returns.
ATTENTION_STATES = (ChangesetState.FAILED, ChangesetState.NEEDS_HUMAN)


def needing_attention(
    conn: Connection, campaign_id: int, *, batch: int | None = None, limit: int
) -> list[Changeset]:
    """The campaign's (or one publish request's) changesets that failed or need a human,
    the most recently changed first, at most `limit` of them: what a progress report shows
    by name, beside the counts of `summarize`."""
    query = (
        sa.select(changesets)
        .where(
            changesets.c.campaign_id == campaign_id,
            # Cheap filters first; the derived state then leaves out merged and closed PRs.
            sa.or_(
                changesets.c.reconciler_state == ReconcilerState.FAILED.value,
                changesets.c.drift.is_not(None),
            ),
            state_expr().in_([s.value for s in ATTENTION_STATES]),
        )
        .order_by(changesets.c.updated_at.desc(), changesets.c.id.desc())
        .limit(limit)
    )
    if batch is not None:
        query = query.where(changesets.c.publish_batch == batch)
    return [changeset_from_row(row) for row in conn.execute(query).mappings()]


@dataclass(frozen=True, slots=True)
class OrgQueue:
    org: str
    waiting: int  # asked to open a PR and has none yet
    next_eta: datetime | None


def count_by_spec_version(conn: Connection, campaign_id: int) -> dict[int, int]:
    """The campaign's published changesets per spec version their desired state is from."""
    # The generated column, not `desired` itself: that is TOASTed, one read per row (0022).
    version = changesets.c.desired_spec_version
    rows = conn.execute(
        sa.select(version, sa.func.count())
        .where(
            changesets.c.campaign_id == campaign_id,
            changesets.c.publish,
            changesets.c.desired.isnot(None),
        )
        .group_by(version)
    ).all()
    return {int(v): int(n) for v, n in rows if v is not None}


def org_queues(conn: Connection, campaign_id: int) -> list[OrgQueue]:
    """Per org the campaign has changesets in: how many still wait to open a PR, and the
    earliest budget ETA among them."""
    waiting = sa.and_(
        changesets.c.publish.is_(True),
        changesets.c.pr_number.is_(None),
        changesets.c.reconciler_state.in_(
            [ReconcilerState.QUEUED.value, ReconcilerState.WAITING.value]
        ),
    )
    rows = conn.execute(
        sa.select(
            changesets.c.org,
            sa.func.count().filter(waiting),
            sa.func.min(changesets.c.budget_eta),
        )
        .where(changesets.c.campaign_id == campaign_id)
        .group_by(changesets.c.org)
        .order_by(changesets.c.org)
    )
    return [OrgQueue(org, int(n), eta) for org, n, eta in rows]


# -- reconcile core (0011) -------------------------------------------------------------------

# The advisory lock between GitHub writes and the kill switch / pause: every write holds it
# shared while it is sent, and setting a hold takes it exclusively, so a hold returns only
# once no write that passed its check is still on its way.
_WRITE_FENCE_KEY = 0x5E0A1_0012


def hold_write_fence(conn: Connection) -> None:
    """Take the write fence shared for the connection's session (see `release_write_fence`)."""
    conn.execute(sa.select(sa.func.pg_advisory_lock_shared(_WRITE_FENCE_KEY)))


def release_write_fence(conn: Connection) -> None:
    conn.execute(sa.select(sa.func.pg_advisory_unlock_shared(_WRITE_FENCE_KEY)))


def close_write_fence(conn: Connection) -> None:
    """Wait until no write is in flight, and keep new ones out until the transaction ends."""
    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_WRITE_FENCE_KEY)))


def set_drift(
    conn: Connection, changeset_id: ChangesetId, drift: dict[str, str] | None, *, now: datetime
) -> None:
    """Flag the changeset as needing a human (or, with None, take the flag back)."""
    conn.execute(
        changesets.update()
        .where(changesets.c.id == changeset_id)
        .values(drift=drift if drift is not None else sa.null(), updated_at=now)
    )


def set_desired(
    conn: Connection, changeset_id: ChangesetId, desired: Desired, *, now: datetime
) -> None:
    """A desired state the reconciler itself moved on (a rebase on GitHub's current base)."""
    conn.execute(
        changesets.update()
        .where(changesets.c.id == changeset_id)
        .values(desired=desired.to_json(), updated_at=now)
    )


def set_reexecute_after(
    conn: Connection, changeset_id: ChangesetId, at: str, *, now: datetime
) -> None:
    """`Observed.reexecute_after`, set alone: a reading recorded meanwhile is kept."""
    conn.execute(
        changesets.update()
        .where(changesets.c.id == changeset_id)
        .values(
            observed=changesets.c.observed.op("||")(
                sa.func.jsonb_build_object("reexecute_after", sa.cast(at, sa.Text))
            ),
            updated_at=now,
        )
    )


def move_branch(
    conn: Connection,
    changeset_id: ChangesetId,
    branch: str,
    observed: Observed,
    *,
    now: datetime,
) -> None:
    """new_pr drift: the changeset follows a new branch and PR; the old PR is left alone."""
    conn.execute(
        changesets.update()
        .where(changesets.c.id == changeset_id)
        .values(
            branch=branch,
            observed=observed.to_json(),
            pr_number=None,
            published_at=None,
            open_claim_at=None,
            updated_at=now,
        )
    )


def lock_campaign_opens(conn: Connection, campaign_id: int) -> None:
    """Serialise the open-PR cap checks of one campaign (transaction-scoped)."""
    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(5012, sa.cast(campaign_id, sa.Integer))))


def open_or_claimed(conn: Connection, campaign_id: int, *, besides: ChangesetId) -> int:
    """The campaign's open PRs, and the changesets holding a place to open one."""
    pr_state = changesets.c.observed["pr_state"].astext
    open_pr = sa.and_(
        changesets.c.pr_number.is_not(None),
        sa.func.coalesce(pr_state, "open").not_in(["closed", "merged"]),
    )
    claimed = sa.and_(
        changesets.c.pr_number.is_(None),
        changesets.c.open_claim_at.is_not(None),
        changesets.c.publish.is_(True),
        changesets.c.reconciler_state != ReconcilerState.FAILED.value,
    )
    query = sa.select(sa.func.count()).where(
        changesets.c.campaign_id == campaign_id,
        changesets.c.id != besides,
        sa.or_(open_pr, claimed),
    )
    return int(conn.execute(query).scalar_one())


def claim_open(conn: Connection, changeset_id: ChangesetId, *, now: datetime) -> None:
    conn.execute(
        changesets.update()
        .where(changesets.c.id == changeset_id, changesets.c.open_claim_at.is_(None))
        .values(open_claim_at=now)
    )


def waiting_for_open_place(conn: Connection, campaign_id: int) -> list[ChangesetId]:
    """The campaign's changesets waiting for one of its open PRs to close or merge."""
    rows = conn.execute(
        sa.select(changesets.c.id)
        .where(
            changesets.c.campaign_id == campaign_id,
            changesets.c.pr_number.is_(None),
            changesets.c.reconciler_state == ReconcilerState.WAITING.value,
            changesets.c.failure_reason == "max_open_prs",
        )
        .order_by(changesets.c.id)
    )
    return [ChangesetId(r.id) for r in rows]
