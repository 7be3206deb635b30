"""Campaigns and specs: create, apply a spec (a new version only when the hash changes), read."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import structlog

from shoal.domain.audit import NewAuditEvent
from shoal.domain.auth import Principal
from shoal.domain.campaigns import Campaign, SpecVersion
from shoal.domain.errors import ConflictError, InvalidInputError
from shoal.services.context import AppContext
from shoal.services.secrets import check_spec_grants
from shoal.spec import ParsedSpec, SpecInvalidError, parse_spec
from shoal.store import audit as audit_store
from shoal.store import campaigns as campaign_store

__all__ = [
    "ApplyResult",
    "SpecValidation",
    "apply_spec",
    "create_campaign",
    "get_campaign",
    "get_spec_version",
    "list_campaigns",
    "list_spec_versions",
    "spec_document",
    "validate_spec",
]


log = structlog.get_logger("shoal.campaigns")


@dataclass(frozen=True, slots=True)
class SpecValidation:
    valid: bool
    spec_hash: str | None
    errors: list[dict[str, Any]]
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ApplyResult:
    campaign: Campaign
    spec_version: SpecVersion
    created_campaign: bool
    created_version: bool


def _parse(yaml_text: str) -> ParsedSpec:
    try:
        return parse_spec(yaml_text)
    except SpecInvalidError as exc:
        raise InvalidInputError(
            "the campaign spec is invalid",
            details={"errors": [issue.to_dict() for issue in exc.issues]},
        ) from exc


def validate_spec(yaml_text: str) -> SpecValidation:
    """Validate without saving. Pure: the CLI runs the very same code locally."""
    try:
        parsed = parse_spec(yaml_text)
    except SpecInvalidError as exc:
        return SpecValidation(False, None, [issue.to_dict() for issue in exc.issues])
    return SpecValidation(True, parsed.spec_hash, [], name=parsed.spec.name)


def create_campaign(
    ctx: AppContext, *, name: str, description: str, principal: Principal
) -> Campaign:
    now = ctx.clock.now()
    with ctx.db.transaction() as conn:
        campaign_id = campaign_store.insert_campaign(
            conn, name=name, description=description, created_by=principal.name, now=now
        )
        if campaign_id is None:
            raise ConflictError(f"campaign {name!r} already exists", details={"campaign": name})
        audit_store.append_audit_event(
            conn,
            NewAuditEvent(
                actor=principal.name,
                action="campaign.create",
                campaign_id=campaign_id,
                target=f"campaign:{name}",
                request_id=principal.request_id,
            ),
            now=now,
        )
        return campaign_store.get_campaign(conn, campaign_id)


def apply_spec(ctx: AppContext, yaml_text: str, *, principal: Principal) -> ApplyResult:
    """Store the spec as the campaign's next version, creating the campaign on first apply.

    Applying a spec whose hash equals the latest version's is a no-op (but still audited, so
    the log shows who re-applied what). Re-applying an older version's content makes it the
    newest version again: history is a sequence, not a set.
    """
    parsed = _parse(yaml_text)
    name = parsed.spec.name
    now = ctx.clock.now()
    with ctx.db.transaction() as conn:
        # Checked on every apply, re-applies included: a revoked grant refuses the spec too.
        check_spec_grants(conn, parsed.spec, parsed.yaml_text)
        campaign_id = campaign_store.insert_campaign(
            conn,
            name=name,
            description=parsed.spec.description,
            created_by=principal.name,
            now=now,
        )
        created_campaign = campaign_id is not None
        if campaign_id is None:
            campaign_id = campaign_store.get_campaign(conn, name).id
        campaign_store.lock_campaign(conn, campaign_id)
        latest = campaign_store.get_campaign(conn, campaign_id)
        if latest.latest_spec_hash == parsed.spec_hash and latest.latest_version is not None:
            version = campaign_store.get_spec_version(conn, campaign_id, latest.latest_version)
            created_version = False
        else:
            version = campaign_store.add_spec_version(
                conn,
                campaign_id,
                spec_hash=parsed.spec_hash,
                yaml_text=parsed.yaml_text,
                canonical_json=parsed.canonical_json,
                created_by=principal.name,
                now=now,
            )
            campaign_store.touch_campaign(
                conn, campaign_id, now=now, description=parsed.spec.description
            )
            created_version = True
        audit_store.append_audit_event(
            conn,
            NewAuditEvent(
                actor=principal.name,
                action="spec.apply",
                outcome="created" if created_version else "unchanged",
                campaign_id=campaign_id,
                spec_version=version.version,
                target=f"campaign:{name}",
                request_id=principal.request_id,
                details={"spec_hash": parsed.spec_hash, "created_campaign": created_campaign},
            ),
            now=now,
        )
        campaign = campaign_store.get_campaign(conn, campaign_id)
    with structlog.contextvars.bound_contextvars(campaign_id=campaign.id):
        log.info(
            "spec_applied",
            campaign=campaign.name,
            spec_version=version.version,
            spec_hash=version.spec_hash,
            created_version=created_version,
            actor=principal.name,
        )
    return ApplyResult(campaign, version, created_campaign, created_version)


def list_campaigns(
    ctx: AppContext,
    *,
    name_prefix: str | None = None,
    limit: int = 100,
    after_id: int | None = None,
) -> list[Campaign]:
    with ctx.db.transaction() as conn:
        return campaign_store.list_campaigns(
            conn,
            campaign_store.CampaignFilter(name_prefix=name_prefix, limit=limit, after_id=after_id),
        )


def get_campaign(ctx: AppContext, ref: str) -> Campaign:
    with ctx.db.transaction() as conn:
        return campaign_store.get_campaign(conn, ref)


def list_spec_versions(ctx: AppContext, ref: str) -> tuple[Campaign, list[SpecVersion]]:
    with ctx.db.transaction() as conn:
        campaign = campaign_store.get_campaign(conn, ref)
        return campaign, campaign_store.list_spec_versions(conn, campaign.id)


def get_spec_version(
    ctx: AppContext, ref: str, version: int | None
) -> tuple[Campaign, SpecVersion]:
    """One version of a campaign's spec; `None` means the latest."""
    with ctx.db.transaction() as conn:
        campaign = campaign_store.get_campaign(conn, ref)
        if version is None:
            if campaign.latest_version is None:
                raise InvalidInputError(f"campaign {campaign.name!r} has no spec yet")
            version = campaign.latest_version
        return campaign, campaign_store.get_spec_version(conn, campaign.id, version)


def spec_document(version: SpecVersion) -> dict[str, Any]:
    """The normalized spec as JSON data (parsed from the stored canonical text)."""
    data: dict[str, Any] = json.loads(version.canonical_json)
    return data
