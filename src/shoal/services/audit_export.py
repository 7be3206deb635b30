"""Exporting the audit log, as JSON Lines or CSV, one event at a time.

The REST API (`GET /audit/export`), the web UI and `shoal audit export` all stream what this
module writes, so the same filter gives the same bytes from each. A CSV cell that a
spreadsheet would run as a formula (it starts with `=`, `+`, `-`, `@`, a tab or a carriage
return) gets a leading `'`: actors, targets, repos and details come from API clients and
GitHub, and an export is opened by people.
"""

from __future__ import annotations

import csv
import enum
import io
import json
from collections.abc import Iterator
from typing import Any

from pydantic_core import to_jsonable_python

from shoal.domain.audit import AuditEvent
from shoal.services.audit import AuditFilter, export_events
from shoal.services.context import AppContext

__all__ = [
    "EXPORT_FIELDS",
    "ExportFormat",
    "csv_cell",
    "event_record",
    "export_filename",
    "export_lines",
]

# The fields of an event as the API lists it (AuditEventOut), in that order.
EXPORT_FIELDS = (
    "id",
    "at",
    "actor",
    "action",
    "outcome",
    "campaign_id",
    "spec_version",
    "target",
    "repo",
    "request_id",
    "details",
    "hash",
)

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportFormat(enum.StrEnum):
    JSONL = "jsonl"
    CSV = "csv"

    @property
    def media_type(self) -> str:
        return "application/x-ndjson" if self is ExportFormat.JSONL else "text/csv; charset=utf-8"


def event_record(event: AuditEvent) -> dict[str, Any]:
    """One event as JSON values (times as the API writes them)."""
    record: dict[str, Any] = to_jsonable_python(
        {name: getattr(event, name) for name in EXPORT_FIELDS}
    )
    return record


def csv_cell(value: object) -> str:
    """A value as a CSV cell that no spreadsheet evaluates."""
    if value is None:
        return ""
    text = json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _csv_line(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue()


def export_lines(ctx: AppContext, flt: AuditFilter, fmt: ExportFormat) -> Iterator[str]:
    """Every event matching `flt` (oldest first), a line (CSV: a header first) at a time."""
    if fmt is ExportFormat.CSV:
        yield _csv_line(list(EXPORT_FIELDS))
    for event in export_events(ctx, flt):
        record = event_record(event)
        if fmt is ExportFormat.JSONL:
            yield json.dumps(record) + "\n"
        else:
            yield _csv_line([csv_cell(record[name]) for name in EXPORT_FIELDS])


def export_filename(fmt: ExportFormat) -> str:
    return f"shoal-audit.{fmt.value}"
