"""What the spec editor shows: the text it starts from, a validation with its summary, and
the apply plan with what the new version changes.

Validating, planning and applying are `shoal.services.campaigns`' use cases, the ones the
REST API and `shoal apply` call; this module only gathers what a page shows around them.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from shoal.domain.campaigns import Campaign
from shoal.domain.errors import NotFoundError
from shoal.services import campaigns
from shoal.services.context import AppContext
from shoal.spec import CampaignSpec, SpecInvalidError, parse_spec

__all__ = [
    "PLAN_ROWS_SHOWN",
    "EditorStart",
    "PlanView",
    "SpecCheck",
    "check",
    "edit_start",
    "from_form",
    "plan",
]

# How many changesets the plan lists one by one (those that change first); the counts cover
# every changeset however many there are.
PLAN_ROWS_SHOWN = 200
# A diff between versions longer than this is cut (the YAML itself is at most 1 MiB).
DIFF_LINES_SHOWN = 2000


@dataclass(frozen=True, slots=True)
class EditorStart:
    text: str
    campaign: Campaign | None  # None for a new campaign
    version: int | None


@dataclass(frozen=True, slots=True)
class SpecSummary:
    name: str
    spec_hash: str
    sources: int
    exclude_rules: int
    steps: list[str]
    title: str
    branch: str


@dataclass(frozen=True, slots=True)
class SpecCheck:
    """A validation: the errors (each with path, message, line, column) or a summary."""

    valid: bool
    errors: list[dict[str, Any]]
    summary: SpecSummary | None

    @property
    def error_lines(self) -> list[int]:
        return sorted({e["line"] for e in self.errors if e.get("line") is not None})


@dataclass(frozen=True, slots=True)
class DiffLine:
    kind: str  # add | del | hunk | context
    text: str


@dataclass(frozen=True, slots=True)
class PlanView:
    plan: campaigns.ApplyPlan
    rows: list[campaigns.ChangesetPlan]  # the first PLAN_ROWS_SHOWN, those that change first
    hidden: int
    by_change: dict[str, int]  # push / update_in_place / final / not_opened / none
    diff: list[DiffLine]
    diff_cut: bool
    next_version: int | None  # the version applying makes, None when it changes nothing


def edit_start(ctx: AppContext, name: str, *, starter: str) -> EditorStart:
    """The latest version's YAML; `starter` with the campaign's name for a campaign made
    without a spec yet."""
    campaign = campaigns.get_campaign(ctx, name)
    if campaign.latest_version is None:
        text = re.sub(r"(?m)^name: .*$", f"name: {campaign.name}", starter, count=1)
        return EditorStart(text, campaign, None)
    _campaign, version = campaigns.get_spec_version(ctx, name, campaign.latest_version)
    return EditorStart(version.yaml_text, campaign, version.version)


def from_form(text: str) -> str:
    """The spec as the author wrote it: a browser sends a textarea's line breaks as CRLF."""
    return text.replace("\r\n", "\n")


def _summary(spec: CampaignSpec, spec_hash: str) -> SpecSummary:
    return SpecSummary(
        name=spec.name,
        spec_hash=spec_hash,
        sources=len(spec.on),
        exclude_rules=len(spec.exclude),
        steps=[step.name for step in spec.steps],
        title=spec.changeset.title,
        branch=spec.changeset.branch or f"shoal/{spec.name}",
    )


def check(ctx: AppContext, text: str) -> SpecCheck:
    """`campaigns.validate_spec` (as POST /api/v1/specs/validate), and a summary when valid."""
    result = campaigns.validate_spec(text, executor=ctx.settings.executor)
    if not result.valid:
        return SpecCheck(False, result.errors, None)
    try:
        parsed = parse_spec(text)
    except SpecInvalidError as exc:  # valid a moment ago: cannot happen, but say so if it does
        return SpecCheck(False, [i.to_dict() for i in exc.issues], None)
    return SpecCheck(True, [], _summary(parsed.spec, parsed.spec_hash))


def _diff(old: str, new: str) -> tuple[list[DiffLine], bool]:
    lines: list[DiffLine] = []
    for line in difflib.unified_diff(
        old.splitlines(), new.splitlines(), "applied", "edited", n=2, lineterm=""
    ):
        if line.startswith(("---", "+++")):
            continue
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "context")
        lines.append(DiffLine(kind, line))
        if len(lines) > DIFF_LINES_SHOWN:
            return lines[:DIFF_LINES_SHOWN], True
    return lines, False


def plan(ctx: AppContext, text: str) -> PlanView:
    """`campaigns.plan_apply` (as POST /api/v1/campaigns/plan), with the YAML's diff against
    the latest version. Raises InvalidInputError (with the errors) for an invalid spec."""
    found = campaigns.plan_apply(ctx, text)
    ordered = sorted(found.changesets, key=lambda c: (not c.changes, c.repo))
    by_change: dict[str, int] = {}
    for c in found.changesets:
        by_change[c.change] = by_change.get(c.change, 0) + 1
    diff: list[DiffLine] = []
    cut = False
    if found.latest_version is not None and not found.unchanged:
        try:
            _campaign, latest = campaigns.get_spec_version(ctx, found.campaign, None)
        except NotFoundError:  # deleted since: the plan said what it could
            pass
        else:
            diff, cut = _diff(latest.yaml_text, text)
    next_version = None
    if not found.unchanged:
        next_version = (found.latest_version or 0) + 1
    return PlanView(
        plan=found,
        rows=ordered[:PLAN_ROWS_SHOWN],
        hidden=max(0, len(ordered) - PLAN_ROWS_SHOWN),
        by_change=dict(sorted(by_change.items())),
        diff=diff,
        diff_cut=cut,
        next_version=next_version,
    )
