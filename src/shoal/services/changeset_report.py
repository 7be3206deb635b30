"""A campaign's report: every changeset with its derived state, checks, review decision,
mergeability, drift, spec version (and whether it is behind the latest), PR, failure, publish
ETA and last activity, filtered the same way wherever it is asked for (the UI's changesets
table and its export, `GET /campaigns/{c}/report`, `shoal report`).

The "stuck" filter is `services.progress.stuck`'s: the same reasons, the same conditions
(`store.changeset_events.stuck_conditions`), the same idle days.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shoal.domain.campaigns import Campaign
from shoal.domain.changesets import ChangesetState
from shoal.domain.errors import InvalidInputError
from shoal.services.context import AppContext
from shoal.services.progress import DEFAULT_INACTIVE_DAYS, STUCK_REASONS, parse_reasons
from shoal.store import campaigns as campaign_store
from shoal.store import changeset_report as report_store
from shoal.store.changeset_report import ReportRow

__all__ = [
    "COLUMNS",
    "EXPORT_BATCH",
    "FORMATS",
    "MAX_PER_PAGE",
    "MEDIA_TYPES",
    "Report",
    "ReportFilter",
    "ReportPage",
    "ReportRow",
    "content_disposition",
    "csv_chunks",
    "csv_safe",
    "export_chunks",
    "json_chunks",
    "matching_repos",
    "open_report",
    "page",
    "row_fields",
]

MAX_PER_PAGE = 500
EXPORT_BATCH = 500
FORMATS = ("csv", "json")
_GLOB = frozenset("*?[")

# The report's columns, in order (CSV header and JSON keys).
COLUMNS = (
    "id",
    "repo",
    "org",
    "branch",
    "state",
    "checks",
    "review_decision",
    "mergeable",
    "needs_human",
    "drift_kind",
    "drift_detail",
    "spec_version",
    "latest_spec_version",
    "behind",
    "pr_number",
    "pr_url",
    "reconciler_state",
    "failure_reason",
    "failure_message",
    "publish_eta",
    "last_activity",
    "stuck",
)


@dataclass(frozen=True, slots=True)
class ReportFilter:
    """Which changesets: empty keeps every one."""

    states: tuple[str, ...] = ()  # derived states
    org: str | None = None
    repo: str | None = None  # a substring of owner/name, or a glob when it has * ? or [
    behind: bool = False  # published with an older spec version than the latest
    stuck: tuple[str, ...] = ()  # open PRs stuck for one of these reasons ("any": every one)
    inactive_days: int = DEFAULT_INACTIVE_DAYS

    @property
    def empty(self) -> bool:
        return not (self.states or self.org or self.repo or self.behind or self.stuck)

    @property
    def repo_glob(self) -> str | None:
        return self.repo if self.repo and _GLOB & set(self.repo) else None

    def params(self) -> list[tuple[str, str]]:
        """The filter as query parameters (the UI's URLs, the CLI's requests)."""
        found = [("state", s) for s in self.states]
        if self.org:
            found.append(("org", self.org))
        if self.repo:
            found.append(("repo", self.repo))
        if self.behind:
            found.append(("behind", "true"))
        found += [("stuck", r) for r in self.stuck]
        if self.inactive_days != DEFAULT_INACTIVE_DAYS:
            found.append(("inactive_days", str(self.inactive_days)))
        return found


def _stuck_reasons(stuck: tuple[str, ...]) -> tuple[str, ...]:
    if not stuck:
        return ()
    if "any" in stuck:
        return STUCK_REASONS
    return parse_reasons(tuple(dict.fromkeys(stuck)))


def _query(ctx: AppContext, campaign: Campaign, flt: ReportFilter) -> report_store.ReportQuery:
    if not 1 <= flt.inactive_days <= 3650:
        raise InvalidInputError(
            f"inactive days are 1 to 3650, not {flt.inactive_days}",
            details={"inactive_days": flt.inactive_days},
        )
    try:
        states = tuple(ChangesetState(s) for s in dict.fromkeys(flt.states))
    except ValueError:
        raise InvalidInputError(
            f"unknown state in {', '.join(flt.states)}; known: "
            f"{', '.join(s.value for s in ChangesetState)}",
            details={"states": list(flt.states)},
        ) from None
    behind = None
    if flt.behind:
        # No spec yet: nothing can be behind it.
        behind = campaign.latest_version if campaign.latest_version is not None else -1
    repo_glob = flt.repo_glob
    return report_store.ReportQuery(
        campaign_id=campaign.id,
        inactive_before=ctx.clock.now() - timedelta(days=flt.inactive_days),
        states=states,
        org=flt.org or None,
        repo_glob=repo_glob,
        repo_contains=None if repo_glob else (flt.repo or None),
        behind_version=behind,
        stuck=_stuck_reasons(flt.stuck),
    )


@dataclass(frozen=True, slots=True)
class ReportPage:
    campaign: Campaign
    rows: list[ReportRow]
    total: int  # matching the filter, on every page
    page: int  # 1-based
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def latest_version(self) -> int | None:
        return self.campaign.latest_version


def page(
    ctx: AppContext, campaign_ref: str, flt: ReportFilter, *, page: int = 1, per_page: int = 50
) -> ReportPage:
    """One page of the matching changesets by repository name, and how many match."""
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInputError(f"a page holds 1 to {MAX_PER_PAGE} changesets, not {per_page}")
    page = max(page, 1)
    with ctx.db.transaction() as conn:
        campaign = campaign_store.get_campaign(conn, campaign_ref)
        q = _query(ctx, campaign, flt)
        total, rows = report_store.page(conn, q, offset=(page - 1) * per_page, limit=per_page)
        last = max(1, -(-total // per_page))
        if page > last:  # past the end: the last page
            page = last
            total, rows = report_store.page(conn, q, offset=(page - 1) * per_page, limit=per_page)
    return ReportPage(campaign, rows, total, page, per_page)


def matching_repos(ctx: AppContext, campaign_ref: str, flt: ReportFilter) -> list[str]:
    """Every matching changeset's owner/name: what "all that match" selects for a bulk
    action."""
    with ctx.db.transaction() as conn:
        campaign = campaign_store.get_campaign(conn, campaign_ref)
        return report_store.repos(conn, _query(ctx, campaign, flt))


@dataclass(frozen=True, slots=True)
class Report:
    """A report ready to stream: the campaign is found, the filter checked and the first batch
    read before the first byte goes out, so a mistake (a glob the database cannot compile, an
    unknown state) is an error answer rather than a cut-off file."""

    ctx: AppContext
    campaign: Campaign
    query: report_store.ReportQuery
    first: list[ReportRow]

    def rows(self) -> Iterator[ReportRow]:
        """Every matching changeset by id, a batch per transaction (no connection is held
        while the reader takes its time)."""
        batch = self.first
        while True:
            yield from batch
            if len(batch) < EXPORT_BATCH:
                return
            after = batch[-1].changeset.id
            with self.ctx.db.transaction() as conn:
                batch = report_store.walk(conn, self.query, after_id=after, limit=EXPORT_BATCH)


def open_report(ctx: AppContext, campaign_ref: str, flt: ReportFilter) -> Report:
    with ctx.db.transaction() as conn:
        campaign = campaign_store.get_campaign(conn, campaign_ref)
        query = _query(ctx, campaign, flt)
        first = report_store.walk(conn, query, after_id=None, limit=EXPORT_BATCH)
    return Report(ctx, campaign, query, first)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def row_fields(row: ReportRow, latest_version: int | None) -> dict[str, Any]:
    """One report row, by `COLUMNS`."""
    c = row.changeset
    observed = c.observed
    drift = c.drift or {}
    behind = (
        row.spec_version is not None
        and latest_version is not None
        and row.spec_version < latest_version
    )
    return {
        "id": c.id,
        "repo": c.repo,
        "org": c.org,
        "branch": c.branch,
        "state": row.state.value,
        "checks": observed.checks,
        "review_decision": observed.review_decision,
        "mergeable": observed.mergeable,
        "needs_human": c.drift is not None,
        "drift_kind": drift.get("kind"),
        "drift_detail": drift.get("detail"),
        "spec_version": row.spec_version,
        "latest_spec_version": latest_version,
        "behind": behind,
        "pr_number": c.pr_number,
        "pr_url": observed.pr_url,
        "reconciler_state": c.reconciler_state.value,
        "failure_reason": c.failure_reason,
        "failure_message": c.failure_message,
        "publish_eta": _iso(c.budget_eta) if row.state is ChangesetState.SCHEDULED else None,
        "last_activity": _iso(row.last_activity),
        "stuck": list(row.stuck),
    }


# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: one that would start a formula gets a leading
    apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        value = " ".join(str(v) for v in value)
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def csv_chunks(report: Report) -> Iterator[str]:
    """The report as CSV, a batch of rows per chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    latest = report.campaign.latest_version
    for count, row in enumerate(report.rows(), start=1):
        fields = row_fields(row, latest)
        writer.writerow([csv_safe(fields[c]) for c in COLUMNS])
        if count % 100 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def json_chunks(report: Report) -> Iterator[str]:
    """The report as one JSON array of objects, a row per line, 100 rows per chunk."""
    latest = report.campaign.latest_version
    lines = ["["]
    for count, row in enumerate(report.rows()):
        lines.append(("\n" if count == 0 else ",\n") + json.dumps(row_fields(row, latest)))
        if len(lines) >= 100:
            yield "".join(lines)
            lines = []
    yield "".join(lines) + "\n]\n"


MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def export_chunks(report: Report, format: str) -> Iterator[str]:
    if format not in FORMATS:
        raise InvalidInputError(f"a report is csv or json, not {format!r}")
    return csv_chunks(report) if format == "csv" else json_chunks(report)


def content_disposition(report: Report, format: str) -> str:
    """An attachment named after the campaign (its name reduced to safe characters)."""
    name = "".join(
        ch if (ch.isascii() and ch.isalnum()) or ch in "-_." else "_" for ch in report.campaign.name
    )
    return f'attachment; filename="{name}-report.{format}"'
