"""What the UI's run and execution pages show, each read in a fixed number of queries.

A run page filters the run's executions with the very filter the REST API and `shoal runs`
use (`store.executions.ExecutionFilter`: state, reason, repository glob, org and the paths a
patch touches), pages them by id, and reads the run's counts from its counter rows: the
same cost for ten executions or five thousand. An execution page reads the execution and a
bounded part of its patch and log from object storage.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shoal.blobs import BlobNotFoundError
from shoal.domain.campaigns import CampaignId
from shoal.domain.errors import InvalidInputError
from shoal.domain.executions import ExecutionState
from shoal.domain.printable import escape_bytes, escape_text
from shoal.domain.runs import Execution, RunId, RunKind, RunState, Target
from shoal.services import runs
from shoal.services.artifacts import open_log, open_patch
from shoal.services.context import AppContext
from shoal.services.publishing import PublishFilter, latest_preview
from shoal.store import campaigns as campaign_store
from shoal.store import executions as execution_store
from shoal.store import runs as run_store
from shoal.store.tables import executions

__all__ = [
    "EXECUTIONS_PER_PAGE",
    "LOG_HEAD_BYTES",
    "LOG_TAIL_BYTES",
    "ExecutionPage",
    "LogView",
    "RunFilters",
    "RunHeader",
    "RunPage",
    "execution_page",
    "read_log",
    "read_patch",
    "run_header",
    "run_page",
]

EXECUTIONS_PER_PAGE = 100
# A log shown on a page: its first and last bytes (a failure is usually at the end).
LOG_HEAD_BYTES = 32 << 10
LOG_TAIL_BYTES = 224 << 10

_WILDCARDS = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class RunFilters:
    """A run page's filters as the URL carries them."""

    state: ExecutionState | None = None
    reason: str | None = None
    org: str | None = None
    repo: str | None = None  # a glob over owner/name, or words any part of it contains
    path: str | None = None  # a glob over the paths a patch touches

    @property
    def repo_glob(self) -> str | None:
        """`repo` as a glob: text without wildcards matches anywhere in owner/name."""
        if not self.repo:
            return None
        if _WILDCARDS & set(self.repo):
            return self.repo
        return f"**{self.repo}**"

    @property
    def active(self) -> bool:
        return any((self.state, self.reason, self.org, self.repo, self.path))

    def execution_filter(
        self, run_id: int, *, after_id: int | None = None, limit: int = EXECUTIONS_PER_PAGE
    ) -> execution_store.ExecutionFilter:
        return execution_store.ExecutionFilter(
            run_id=RunId(run_id),
            states=(self.state,) if self.state else (),
            reasons=(self.reason,) if self.reason else (),
            repo_glob=self.repo_glob,
            path_glob=self.path or None,
            org=self.org or None,
            after_id=after_id,
            limit=limit,
        )

    def publish_filter(self, repos: tuple[str, ...] = ()) -> PublishFilter:
        """The same selection for publishing (it takes only the patches among them)."""
        return PublishFilter(
            repos=repos, repo_glob=self.repo_glob, org=self.org or None, path_glob=self.path
        )


@dataclass(frozen=True, slots=True)
class RunHeader:
    """What a run page's live header shows: the run, its state and its counts."""

    view: runs.RunView

    @property
    def active(self) -> bool:
        return self.view.state in (RunState.SELECTING.value, RunState.EXECUTING.value)


def run_header(ctx: AppContext, run_id: int) -> RunHeader:
    """Two queries (the run, its counter rows), whatever the run's size."""
    return RunHeader(runs.get_run(ctx, run_id))


@dataclass(frozen=True, slots=True)
class RunPage:
    view: runs.RunView
    rows: list[Execution]
    total: int  # executions matching the filters, on every page
    next_after: int | None
    orgs: list[str]  # the orgs of the run's executions, for the org filter
    reasons: list[str]  # the failure reasons seen in the run
    latest_preview: int | None  # the run publishing the campaign's latest spec would publish

    @property
    def active(self) -> bool:
        return self.view.state in (RunState.SELECTING.value, RunState.EXECUTING.value)

    @property
    def publishable(self) -> bool:
        """This run is what publishing the campaign publishes now."""
        return self.latest_preview == self.view.run.id and self.view.progress.finished > 0

    @property
    def patches(self) -> int:
        return self.view.progress.by_state.get(ExecutionState.PATCH, 0)


def _orgs(conn: Connection, run_id: int) -> list[str]:
    owner = sa.func.lower(sa.func.split_part(executions.c.repo, "/", 1))
    query = sa.select(owner).where(executions.c.run_id == run_id).distinct().order_by(owner)
    return list(conn.execute(query.limit(500)).scalars())


def _reasons(conn: Connection, run_id: int) -> list[str]:
    query = (
        sa.select(executions.c.reason)
        .where(executions.c.run_id == run_id, executions.c.reason.is_not(None))
        .distinct()
        .order_by(executions.c.reason)
    )
    return list(conn.execute(query.limit(100)).scalars())


def _latest_preview(conn: Connection, campaign_id: CampaignId) -> int | None:
    campaign = campaign_store.get_campaign(conn, campaign_id)
    if campaign.latest_version is None:
        return None
    try:
        return latest_preview(conn, campaign.id, campaign.latest_version).id
    except InvalidInputError:  # no finished preview of that version: nothing to publish
        return None


def run_page(
    ctx: AppContext, run_id: int, filters: RunFilters, *, after_id: int | None = None
) -> RunPage:
    flt = filters.execution_filter(run_id, after_id=after_id, limit=EXECUTIONS_PER_PAGE + 1)
    with ctx.db.transaction() as conn:
        run = run_store.get_run(conn, RunId(run_id))
        progress = run_store.run_progress(conn, run.id)
        found = execution_store.list_executions(conn, flt)
        total = execution_store.count_executions(conn, flt)
        orgs = _orgs(conn, run.id)
        reasons = _reasons(conn, run.id)
        latest = _latest_preview(conn, run.campaign_id) if run.kind is RunKind.PREVIEW else None
    rows = found[:EXECUTIONS_PER_PAGE]
    more = len(found) > EXECUTIONS_PER_PAGE
    return RunPage(
        view=runs.RunView(run, progress, ctx.clock.now()),
        rows=rows,
        total=total,
        next_after=rows[-1].id if more and rows else None,
        orgs=orgs,
        reasons=reasons,
        latest_preview=latest,
    )


@dataclass(frozen=True, slots=True)
class LogView:
    head: str  # escaped for reading (control characters visible)
    tail: str  # empty unless the log is longer than head and tail together
    skipped: int  # bytes between them, not shown
    size: int
    missing: bool = False  # the whole log is no longer stored: `tail` is its last lines


@dataclass(frozen=True, slots=True)
class ExecutionPage:
    view: runs.RunView
    execution: Execution
    target: Target
    latest_preview: int | None

    @property
    def duration_s(self) -> float | None:
        e = self.execution
        if e.started_at is None or e.finished_at is None:
            return None
        return (e.finished_at - e.started_at).total_seconds()


def execution_page(ctx: AppContext, run_id: int, repo: str) -> ExecutionPage:
    execution, target = runs.get_execution(ctx, run_id, repo)
    with ctx.db.transaction() as conn:
        run = run_store.get_run(conn, RunId(run_id))
        progress = run_store.run_progress(conn, run.id)
        latest = _latest_preview(conn, run.campaign_id) if run.kind is RunKind.PREVIEW else None
    return ExecutionPage(runs.RunView(run, progress, ctx.clock.now()), execution, target, latest)


def read_patch(ctx: AppContext, run_id: int, repo: str, limit: int) -> tuple[bytes, bool] | None:
    """The first `limit` bytes of the execution's patch, and whether there is more; None
    when its object is no longer stored (retention deleted it)."""
    kept = bytearray()
    chunks = None
    try:
        chunks = open_patch(ctx, run_id, repo)
        for chunk in chunks:
            room = limit - len(kept)
            if len(chunk) > room:
                kept += chunk[:room]
                return bytes(kept), True
            kept += chunk
    except BlobNotFoundError:
        return None
    finally:
        # Stopping early: the object's stream is closed now, not when collected.
        getattr(chunks, "close", lambda: None)()
    return bytes(kept), False


def _head_and_tail(chunks: Iterator[bytes]) -> tuple[bytes, bytes, int]:
    head = bytearray()
    tail = bytearray()
    size = 0
    for chunk in chunks:
        size += len(chunk)
        room = max(LOG_HEAD_BYTES - len(head), 0)
        head += chunk[:room]
        rest = chunk[room:]
        if rest:
            tail += rest
            if len(tail) > LOG_TAIL_BYTES:
                del tail[: len(tail) - LOG_TAIL_BYTES]
    return bytes(head), bytes(tail), size - len(head) - len(tail)


def read_log(ctx: AppContext, run_id: int, repo: str, *, log_tail: str = "") -> LogView:
    """The log as stored (secrets masked by the runner), bounded: its head and its tail. When
    its object is no longer stored (retention), the tail the database keeps."""
    try:
        head, tail, skipped = _head_and_tail(open_log(ctx, run_id, repo))
    except BlobNotFoundError:
        return LogView(head="", tail=escape_text(log_tail), skipped=0, size=0, missing=True)
    return LogView(
        head=escape_bytes(head),
        tail=escape_bytes(tail),
        skipped=skipped,
        size=len(head) + len(tail) + skipped,
    )
