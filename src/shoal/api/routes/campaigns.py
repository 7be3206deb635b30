"""Campaigns and their spec versions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from shoal.api.deps import Ctx, Operator, Viewer
from shoal.api.paths import API_PREFIX
from shoal.api.schemas import (
    ApplyOut,
    ApplyPlanOut,
    CampaignIn,
    CampaignOut,
    ChangesetPlanOut,
    SpecIn,
    SpecIssueOut,
    SpecValidationOut,
    SpecVersionOut,
    SpecVersionSummaryOut,
)
from shoal.domain.errors import InvalidInputError
from shoal.services import campaigns

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, tags=["campaigns"])


@router.get("/campaigns", response_model=list[CampaignOut], summary="List campaigns")
def list_campaigns(
    ctx: Ctx,
    _: Viewer,
    prefix: Annotated[str | None, Query(description="Only names starting with this")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after: Annotated[int | None, Query(description="Page after this campaign id")] = None,
) -> list[CampaignOut]:
    found = campaigns.list_campaigns(ctx, name_prefix=prefix, limit=limit, after_id=after)
    return [CampaignOut.model_validate(c) for c in found]


@router.post(
    "/campaigns",
    response_model=CampaignOut,
    status_code=201,
    summary="Create a campaign",
    responses={409: {"description": "A campaign of that name exists"}},
)
def create_campaign(ctx: Ctx, principal: Operator, body: CampaignIn) -> CampaignOut:
    created = campaigns.create_campaign(
        ctx, name=body.name, description=body.description, principal=principal
    )
    return CampaignOut.model_validate(created)


@router.post(
    "/campaigns/apply",
    response_model=ApplyOut,
    summary="Apply a spec: a new version when its hash changed, else a no-op",
)
def apply_spec(ctx: Ctx, principal: Operator, body: SpecIn) -> ApplyOut:
    result = campaigns.apply_spec(ctx, body.spec, principal=principal)
    return ApplyOut(
        campaign=CampaignOut.model_validate(result.campaign),
        spec_version=SpecVersionSummaryOut.model_validate(result.spec_version),
        created_campaign=result.created_campaign,
        created_version=result.created_version,
    )


@router.post(
    "/campaigns/plan",
    response_model=ApplyPlanOut,
    summary="What applying a spec would change on each published changeset (writes nothing)",
)
def plan_apply(ctx: Ctx, _: Viewer, body: SpecIn) -> ApplyPlanOut:
    found = campaigns.plan_apply(ctx, body.spec)
    return ApplyPlanOut(
        campaign=found.campaign,
        new_campaign=found.new_campaign,
        unchanged=found.unchanged,
        latest_version=found.latest_version,
        spec_hash=found.spec_hash,
        template_changed=found.template_changed,
        patch_changed=found.patch_changed,
        selection_changed=found.selection_changed,
        changes_published=found.changes_published,
        counts=found.counts,
        changesets=[
            ChangesetPlanOut(
                changeset_id=c.changeset_id,
                repo=c.repo,
                pr_number=c.pr_number,
                spec_version=c.spec_version,
                operations=list(c.operations),
                removals=c.removals,
                changes=c.changes,
                change=c.change,
            )
            for c in found.changesets
        ],
        notes=found.notes,
    )


@router.post(
    "/specs/validate",
    response_model=SpecValidationOut,
    summary="Validate a spec without saving it",
)
def validate_spec(ctx: Ctx, _: Viewer, body: SpecIn) -> SpecValidationOut:
    result = campaigns.validate_spec(body.spec, executor=ctx.settings.executor)
    return SpecValidationOut(
        valid=result.valid,
        spec_hash=result.spec_hash,
        name=result.name,
        errors=[SpecIssueOut(**e) for e in result.errors],
    )


@router.get("/campaigns/{campaign}", response_model=CampaignOut, summary="Get a campaign")
def get_campaign(ctx: Ctx, _: Viewer, campaign: str) -> CampaignOut:
    return CampaignOut.model_validate(campaigns.get_campaign(ctx, campaign))


@router.get(
    "/campaigns/{campaign}/specs",
    response_model=list[SpecVersionSummaryOut],
    summary="List a campaign's spec versions, oldest first",
)
def list_spec_versions(ctx: Ctx, _: Viewer, campaign: str) -> list[SpecVersionSummaryOut]:
    _campaign, versions = campaigns.list_spec_versions(ctx, campaign)
    return [SpecVersionSummaryOut.model_validate(v) for v in versions]


def _version_number(version: str) -> int | None:
    if version == "latest":
        return None
    if not (version.isascii() and version.isdigit()):
        raise InvalidInputError(f"version must be a number or 'latest', got {version!r}")
    return int(version)


@router.get(
    "/campaigns/{campaign}/specs/{version}",
    response_model=SpecVersionOut,
    summary="Get one spec version (a number or `latest`): YAML and normalized JSON",
)
def get_spec_version(ctx: Ctx, _: Viewer, campaign: str, version: str) -> SpecVersionOut:
    owner, found = campaigns.get_spec_version(ctx, campaign, _version_number(version))
    return SpecVersionOut(
        campaign=owner.name,
        version=found.version,
        spec_hash=found.spec_hash,
        created_at=found.created_at,
        created_by=found.created_by,
        yaml=found.yaml_text,
        spec=campaigns.spec_document(found),
    )


class YamlResponse(PlainTextResponse):
    media_type = "application/yaml"


@router.get(
    "/campaigns/{campaign}/specs/{version}/yaml",
    response_class=YamlResponse,
    summary="The YAML of one spec version, as applied",
)
def get_spec_yaml(ctx: Ctx, _: Viewer, campaign: str, version: str) -> YamlResponse:
    _owner, found = campaigns.get_spec_version(ctx, campaign, _version_number(version))
    return YamlResponse(found.yaml_text)
