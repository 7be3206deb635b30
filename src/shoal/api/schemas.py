"""Request and response bodies of the REST API (pydantic: this is an edge)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ApplyOut",
    "AuditEventOut",
    "CampaignIn",
    "CampaignOut",
    "SpecIn",
    "SpecIssueOut",
    "SpecValidationOut",
    "SpecVersionOut",
    "SpecVersionSummaryOut",
]

MAX_SPEC_BYTES = 1024 * 1024


class _Out(BaseModel):
    # `from_attributes`: bodies are read straight off the domain's frozen dataclasses.
    model_config = ConfigDict(frozen=True, from_attributes=True)


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,62}$", description="Campaign slug.")
    description: str = Field(default="", max_length=2000)


class SpecIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Slightly above the spec's own 1 MiB limit so the spec parser reports the size precisely.
    spec: str = Field(description="The campaign spec as YAML text.", max_length=2 * MAX_SPEC_BYTES)


class CampaignOut(_Out):
    id: int
    name: str
    description: str
    created_at: datetime
    updated_at: datetime
    created_by: str
    latest_version: int | None
    latest_spec_hash: str | None


class SpecVersionSummaryOut(_Out):
    version: int
    spec_hash: str
    created_at: datetime
    created_by: str


class SpecVersionOut(SpecVersionSummaryOut):
    campaign: str
    yaml: str = Field(description="The YAML exactly as applied.")
    spec: dict[str, Any] = Field(description="The normalized spec (what the hash covers).")


class ApplyOut(_Out):
    campaign: CampaignOut
    spec_version: SpecVersionSummaryOut
    created_campaign: bool
    created_version: bool


class ChangesetPlanOut(_Out):
    changeset_id: int
    repo: str
    pr_number: int | None
    spec_version: int = Field(description="The spec version the PR is on now.")
    operations: list[str] = Field(
        description="What publishing the new version does to it, in order: reconciler "
        "operations (update_pr, set_labels, remove_labels, ...), `reexecute_and_push` (after "
        "the next preview), `final` (merged or closed: never touched) or `not_opened`."
    )
    removals: dict[str, list[str]] = Field(
        description="Labels, reviewers, team_reviewers and assignees Shoal set that the new "
        "spec dropped: removed from the PR."
    )
    changes: bool
    change: str = Field(
        description="In a word: `push` (a new commit: `push` or `reexecute_and_push`), "
        "`update_in_place` (the PR is edited, its commit stays), `final`, `not_opened` or "
        "`none`."
    )


class ApplyPlanOut(_Out):
    campaign: str
    new_campaign: bool
    unchanged: bool = Field(description="The spec is the latest version: applying is a no-op.")
    latest_version: int | None
    spec_hash: str
    template_changed: bool
    patch_changed: bool
    selection_changed: bool
    changes_published: bool = Field(description="Whether any PR on GitHub would be written to.")
    counts: dict[str, int] = Field(description="Changesets per operation.")
    changesets: list[ChangesetPlanOut]
    notes: list[str]


class SpecIssueOut(_Out):
    path: str
    message: str
    line: int | None
    column: int | None


class SpecValidationOut(_Out):
    valid: bool
    spec_hash: str | None
    name: str | None
    errors: list[SpecIssueOut]


class AuditEventOut(_Out):
    id: int
    at: datetime
    actor: str
    action: str
    outcome: str
    campaign_id: int | None
    spec_version: int | None
    target: str | None
    repo: str | None
    request_id: str | None
    details: dict[str, Any]
    hash: str
