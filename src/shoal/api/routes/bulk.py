"""Bulk actions: start one on a campaign's changesets, list and follow them, cancel one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from shoal.api.deps import Ctx, Operator, Viewer
from shoal.api.paths import API_PREFIX
from shoal.domain.bulk import BulkAction, BulkItem, BulkKind
from shoal.services import bulk

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, tags=["bulk"])


class BulkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    repos: list[str] = Field(default_factory=list, description="Only these owner/name.")
    repo_glob: str | None = Field(default=None, description="Only repos matching this glob.")
    org: str | None = Field(default=None, description="Only this organization's repos.")
    states: list[str] = Field(
        default_factory=list, description="Only changesets in these derived states."
    )
    deselected: bool = Field(
        default=False,
        description="close: the changesets whose repo is not in the latest preview's selection.",
    )
    body: str | None = Field(
        default=None, max_length=bulk.MAX_COMMENT_CHARS, description="comment: its text."
    )
    delete_branch: bool = Field(default=False, description="close: delete the PR's branch.")
    draft: bool | None = Field(default=None, description="publish: open as drafts.")
    what: str = Field(
        default="all", description="retry: all, publish (changesets) or execution (preview)."
    )


class BulkOut(BaseModel):
    id: int
    campaign: str
    kind: str
    state: str = Field(description="running, done or cancelled.")
    filter: dict[str, Any]
    params: dict[str, Any]
    created_by: str
    created_at: datetime
    finished_at: datetime | None
    cancelled_by: str | None
    total: int
    settled: int = Field(description="Items done, skipped, failed or cancelled.")
    counts: dict[str, int] = Field(
        description="Items by state: pending, applied, done, skipped, failed, cancelled."
    )

    @classmethod
    def of(cls, a: BulkAction) -> BulkOut:
        params = dict(a.params)
        return cls(
            id=a.id,
            campaign=a.campaign,
            kind=a.kind.value,
            state=a.state.value,
            filter=a.filter,
            params=params,
            created_by=a.created_by,
            created_at=a.created_at,
            finished_at=a.finished_at,
            cancelled_by=a.cancelled_by,
            total=a.total,
            settled=a.settled,
            counts={s.value: n for s, n in a.counts.items()},
        )


class BulkItemOut(BaseModel):
    id: int
    repo: str
    changeset_id: int | None
    execution_id: int | None
    state: str
    detail: str | None
    updated_at: datetime

    @classmethod
    def of(cls, i: BulkItem) -> BulkItemOut:
        return cls(
            id=i.id,
            repo=i.repo,
            changeset_id=i.changeset_id,
            execution_id=i.execution_id,
            state=i.state.value,
            detail=i.detail,
            updated_at=i.updated_at,
        )


class BulkPlanOut(BaseModel):
    campaign: str
    kind: str
    params: dict[str, Any]
    summary: str = Field(description="What the action would do, in one sentence.")
    acting: int = Field(description="Items the action would act on.")
    prs: int = Field(description="Changesets acted on that have a PR.")
    without_pr: int = Field(
        description="Changesets acted on that have no PR yet (close: not published any more)."
    )
    executions: int = Field(description="retry: failed executions queued again.")
    by_org: dict[str, int] = Field(description="What is acted on, per org.")
    skipped: dict[str, int] = Field(description="Items skipped at once, by why.")
    repos: list[str] = Field(description="The first repositories acted on.")

    @classmethod
    def of(cls, p: bulk.BulkPlan) -> BulkPlanOut:
        return cls(
            campaign=p.campaign,
            kind=p.kind.value,
            params=p.params,
            summary=p.sentence(),
            acting=p.acting,
            prs=p.prs,
            without_pr=p.without_pr,
            executions=p.executions,
            by_org=p.by_org,
            skipped=p.skipped,
            repos=list(p.repos),
        )


def _request(kind: BulkKind, body: BulkIn) -> bulk.BulkRequest:
    return bulk.BulkRequest(
        kind=kind,
        flt=bulk.BulkFilter(
            repos=tuple(body.repos),
            repo_glob=body.repo_glob,
            org=body.org,
            states=tuple(body.states),
            deselected=body.deselected,
        ),
        body=body.body,
        delete_branch=body.delete_branch,
        draft=body.draft,
        what=body.what,
    )


@router.post(
    "/campaigns/{campaign}/bulk/{kind}",
    response_model=BulkOut,
    status_code=202,
    summary="Start a bulk action (retry, close, rebase, update-template, publish, undraft, "
    "comment) on the campaign's changesets that match the filters",
)
def start(ctx: Ctx, principal: Operator, campaign: str, kind: BulkKind, body: BulkIn) -> BulkOut:
    return BulkOut.of(bulk.start(ctx, campaign, _request(kind, body), principal=principal))


@router.post(
    "/campaigns/{campaign}/bulk/{kind}/dry-run",
    response_model=BulkPlanOut,
    summary="What a bulk action with this body would do now (how many PRs in which orgs, "
    "what it skips and why), chosen as starting it would; nothing is changed",
)
def dry_run(ctx: Ctx, _: Operator, campaign: str, kind: BulkKind, body: BulkIn) -> BulkPlanOut:
    return BulkPlanOut.of(bulk.plan(ctx, campaign, _request(kind, body)))


@router.get(
    "/bulk",
    response_model=list[BulkOut],
    summary="Bulk actions, newest first",
    responses={404: {"description": "No campaign of that name"}},
)
def list_bulk(
    ctx: Ctx,
    _: Viewer,
    campaign: Annotated[str | None, Query(description="Only this campaign's")] = None,
    state: Annotated[list[str] | None, Query(description="running, done, cancelled")] = None,
    before: Annotated[int | None, Query(description="Next page: ids below this one")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[BulkOut]:
    found = bulk.list_actions(
        ctx, campaign_ref=campaign, states=tuple(state or ()), before_id=before, limit=limit
    )
    return [BulkOut.of(a) for a in found]


@router.get("/bulk/{action_id}", response_model=BulkOut, summary="One bulk action's progress")
def get_bulk(ctx: Ctx, _: Viewer, action_id: int) -> BulkOut:
    return BulkOut.of(bulk.get(ctx, action_id))


@router.get(
    "/bulk/{action_id}/items",
    response_model=list[BulkItemOut],
    summary="A bulk action's items: each changeset (or failed execution) and its outcome",
)
def list_items(
    ctx: Ctx,
    _: Viewer,
    action_id: int,
    state: Annotated[list[str] | None, Query(description="Only items in these states")] = None,
    after: Annotated[int | None, Query(description="Next page: the items after this id")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> list[BulkItemOut]:
    found = bulk.items(ctx, action_id, states=tuple(state or ()), after_id=after, limit=limit)
    return [BulkItemOut.of(i) for i in found]


@router.post(
    "/bulk/{action_id}/cancel",
    response_model=BulkOut,
    summary="Cancel a running bulk action: nothing more is asked; what was asked and not done "
    "yet is withdrawn where it can be",
    responses={409: {"description": "The bulk action is not running"}},
)
def cancel(ctx: Ctx, principal: Operator, action_id: int) -> BulkOut:
    return BulkOut.of(bulk.cancel(ctx, action_id, principal=principal))
