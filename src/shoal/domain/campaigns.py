"""Campaigns and their immutable spec versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NewType

__all__ = ["Campaign", "CampaignId", "SpecVersion", "SpecVersionId"]

CampaignId = NewType("CampaignId", int)
SpecVersionId = NewType("SpecVersionId", int)


@dataclass(frozen=True, slots=True)
class SpecVersion:
    id: SpecVersionId
    campaign_id: CampaignId
    version: int
    spec_hash: str
    yaml_text: str
    canonical_json: str
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class Campaign:
    id: CampaignId
    name: str
    description: str
    created_at: datetime
    updated_at: datetime
    created_by: str
    latest_version: int | None
    latest_spec_hash: str | None
