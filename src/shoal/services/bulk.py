"""Bulk actions as users drive them: start one on a filtered set of a campaign's changesets,
follow it, cancel it. Every one is audited.

A bulk action never writes to GitHub: it changes desired state and queues reconcile tasks
(the reconciler writes, under the governor's pacing, the org's mutation slots and the daily
budgets), or queues failed executions again. It acts on a window of items at a time
(`WINDOW`): the next ones are asked for only as earlier ones settle, so a bulk action over
thousands of PRs goes at the pace GitHub lets the reconciler write, and a cancel stops what
has not been asked yet (the task: `services.bulk_run`). `publish` and `update-template` go
through `publishing.publish`, whose changesets the budgets pace already.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.engine import Connection

from shoal.domain.audit import NewAuditEvent
from shoal.domain.auth import Principal
from shoal.domain.bulk import BulkAction, BulkItem, BulkItemState, BulkKind, BulkState
from shoal.domain.campaigns import Campaign, CampaignId
from shoal.domain.changesets import Changeset, ChangesetState, ReconcilerState
from shoal.domain.errors import ConflictError, InvalidInputError
from shoal.domain.executions import ExecutionState
from shoal.domain.globs import glob_matcher
from shoal.domain.runs import Run, RunKind
from shoal.services import publishing
from shoal.services.bulk_run import OPEN, bulk_task, changeset_item, withdraw
from shoal.services.context import AppContext
from shoal.store import audit as audit_store
from shoal.store import bulk_actions as bulk_store
from shoal.store import campaigns as campaign_store
from shoal.store import changeset_events as event_store
from shoal.store import changesets as changeset_store
from shoal.store import executions as execution_store
from shoal.store import runs as run_store
from shoal.store import targets as target_store
from shoal.store import tasks as task_store

__all__ = [
    "MAX_COMMENT_CHARS",
    "PLAN_SAMPLE",
    "BulkFilter",
    "BulkPlan",
    "BulkRequest",
    "cancel",
    "get",
    "items",
    "list_actions",
    "plan",
    "start",
]

log = structlog.get_logger("shoal.bulk")

MAX_COMMENT_CHARS = 65_000  # GitHub refuses comments over 65,536 characters


@dataclass(frozen=True, slots=True)
class BulkFilter:
    """Which changesets (or failed executions) an action is for; empty: every one its kind
    applies to."""

    repos: tuple[str, ...] = ()  # exact owner/name
    repo_glob: str | None = None
    org: str | None = None
    states: tuple[str, ...] = ()  # derived changeset states
    deselected: bool = False  # close: the changesets whose repo left the selection

    def describe(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in {
                "repos": list(self.repos) or None,
                "repo_glob": self.repo_glob,
                "org": self.org,
                "states": list(self.states) or None,
                "deselected": self.deselected or None,
            }.items()
            if v
        }

    def keeps(self, repo: str) -> bool:
        return self.keeper()(repo)

    def keeper(self) -> Callable[[str], bool]:
        """`keeps` for many repos: the named ones are looked up in a set made once."""
        named = {r.lower() for r in self.repos}
        org = self.org.lower() if self.org else None
        matches = glob_matcher(self.repo_glob) if self.repo_glob else None

        def keeps(repo: str) -> bool:
            name = repo.lower()
            if named and name not in named:
                return False
            if org and name.split("/", 1)[0] != org:
                return False
            return matches is None or matches(name)

        return keeps


@dataclass(frozen=True, slots=True)
class BulkRequest:
    kind: BulkKind
    flt: BulkFilter = BulkFilter()
    body: str | None = None  # comment: the comment's text
    delete_branch: bool = False  # close: delete the PR's branch too
    draft: bool | None = None  # publish: open as drafts (default: the spec's)
    what: str = "all"  # retry: all | publish | execution

    def params(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if self.kind is BulkKind.COMMENT:
            found["body"] = self.body
        if self.kind is BulkKind.CLOSE:
            found["delete_branch"] = self.delete_branch
        if self.kind is BulkKind.PUBLISH and self.draft is not None:
            found["draft"] = self.draft
        if self.kind is BulkKind.RETRY:
            found["what"] = self.what
        return found


def _check(request: BulkRequest) -> None:
    kind = request.kind
    if kind is BulkKind.COMMENT and not (request.body or "").strip():
        raise InvalidInputError("a bulk comment needs a body: --body TEXT (or --body-file FILE)")
    if kind is BulkKind.COMMENT and len(request.body or "") > MAX_COMMENT_CHARS:
        raise InvalidInputError(
            f"the comment has {len(request.body or '')} characters; GitHub takes at most "
            f"{MAX_COMMENT_CHARS}",
        )
    if request.flt.deselected and kind is not BulkKind.CLOSE:
        raise InvalidInputError("--deselected applies to `shoal bulk close` only")
    if kind is BulkKind.RETRY and request.what not in {"all", "publish", "execution"}:
        raise InvalidInputError(
            f"retry what={request.what!r}: say all, publish or execution",
            details={"what": request.what},
        )
    if request.flt.states:
        unknown = sorted(set(request.flt.states) - {s.value for s in ChangesetState})
        if unknown:
            raise InvalidInputError(
                f"unknown state(s) {', '.join(unknown)}; known: "
                f"{', '.join(s.value for s in ChangesetState)}",
                details={"unknown": unknown},
            )


# -- choosing the items -------------------------------------------------------------------


def _changesets(conn: Connection, campaign_id: int, flt: BulkFilter) -> list[Changeset]:
    found = changeset_store.list_changesets(
        conn,
        changeset_store.ChangesetFilter(
            campaign_id=campaign_id,
            org=flt.org,
            repo_glob=flt.repo_glob,
            states=tuple(ChangesetState(s) for s in flt.states),
            limit=1_000_000,
        ),
    )
    keeps = flt.keeper()
    return [c for c in found if keeps(c.repo)]


def _latest_preview(conn: Connection, campaign_id: int) -> Run | None:
    """The latest preview that finished selecting and was not cancelled."""
    for run in run_store.list_runs(
        conn,
        run_store.RunFilter(campaign_id=CampaignId(campaign_id), kind=RunKind.PREVIEW, limit=20),
    ):
        if run.cancelled_at is None and run.selection_done_at is not None:
            return run
    return None


def _deselected(conn: Connection, campaign_id: int, found: list[Changeset]) -> list[Changeset]:
    run = _latest_preview(conn, campaign_id)
    if run is None:
        raise InvalidInputError(
            "--deselected needs a finished preview to know the selection; run `shoal preview` first"
        )
    included = {
        t.repo.lower()
        for t in target_store.list_targets(
            conn, target_store.TargetFilter(run_id=run.id, included=True, limit=1_000_000)
        )
    }
    return [c for c in found if c.repo.lower() not in included]


def _failed_executions(
    conn: Connection, campaign_id: int, flt: BulkFilter
) -> list[bulk_store.NewBulkItem]:
    run = _latest_preview(conn, campaign_id)
    if run is None:
        return []
    failed = execution_store.list_executions(
        conn,
        execution_store.ExecutionFilter(
            run_id=run.id, states=(ExecutionState.FAILED,), limit=1_000_000
        ),
    )
    keeps = flt.keeper()
    return [bulk_store.NewBulkItem(e.repo, execution_id=e.id) for e in failed if keeps(e.repo)]


def _choose(
    conn: Connection, campaign_id: int, request: BulkRequest
) -> list[bulk_store.NewBulkItem]:
    return _choose_with(conn, campaign_id, request)[0]


def _choose_with(
    conn: Connection, campaign_id: int, request: BulkRequest
) -> tuple[list[bulk_store.NewBulkItem], dict[int, Changeset]]:
    """The items an action records, and the changesets they were chosen from (by id)."""
    flt = request.flt
    if request.kind is BulkKind.RETRY:
        chosen: list[bulk_store.NewBulkItem] = []
        failed: list[Changeset] = []
        if request.what in {"all", "publish"}:
            failed = [
                c
                for c in _changesets(conn, campaign_id, flt)
                if c.reconciler_state is ReconcilerState.FAILED
            ]
            chosen += [changeset_item(request.kind, c) for c in failed]
        if request.what in {"all", "execution"}:
            # A repo whose changeset is retried already: its execution is not in question.
            taken = {i.repo.lower() for i in chosen}
            chosen += [
                i for i in _failed_executions(conn, campaign_id, flt) if i.repo.lower() not in taken
            ]
        return chosen, {int(c.id): c for c in failed}
    found = _changesets(conn, campaign_id, flt)
    if flt.deselected:
        found = _deselected(conn, campaign_id, found)
    chosen = [changeset_item(request.kind, c) for c in found]
    seen = {int(c.id): c for c in found}
    if flt.repos:
        return chosen, seen  # repositories named one by one each say what became of them
    return [i for i in chosen if i.state is not BulkItemState.SKIPPED], seen


# -- use cases ------------------------------------------------------------------------------


def start(
    ctx: AppContext, campaign_ref: str, request: BulkRequest, *, principal: Principal
) -> BulkAction:
    """Record a bulk action with one item per changeset it is for, and queue its task."""
    _check(request)
    now = ctx.clock.now()
    applied: list[bulk_store.NewBulkItem] = []
    if request.kind in {BulkKind.PUBLISH, BulkKind.UPDATE_TEMPLATE}:
        applied = _publish(ctx, campaign_ref, request, principal=principal)
    with ctx.db.transaction() as conn:
        campaign = campaign_store.get_campaign(conn, campaign_ref)
        chosen = applied or _choose(conn, campaign.id, request)
        if not applied and request.kind in {BulkKind.PUBLISH, BulkKind.UPDATE_TEMPLATE}:
            chosen = []
        action_id = bulk_store.insert_action(
            conn,
            campaign_id=campaign.id,
            kind=request.kind,
            flt=request.flt.describe(),
            params=request.params(),
            created_by=principal.name,
            request_id=principal.request_id,
            now=now,
        )
        bulk_store.insert_items(conn, action_id, chosen, now=now)
        task_store.enqueue(
            conn, bulk_task(action_id), now=now, max_attempts=ctx.settings.task_max_attempts
        )
        audit_store.append_audit_event(
            conn,
            NewAuditEvent(
                actor=principal.name,
                action="bulk.start",
                campaign_id=campaign.id,
                target=f"bulk:{action_id}",
                request_id=principal.request_id,
                details={
                    "kind": request.kind.value,
                    "filter": request.flt.describe(),
                    "params": {
                        k: (len(v) if k == "body" and isinstance(v, str) else v)
                        for k, v in request.params().items()
                    },
                    "items": len(chosen),
                    "skipped": sum(1 for i in chosen if i.state is BulkItemState.SKIPPED),
                },
            ),
            now=now,
        )
        action = bulk_store.get_action(conn, action_id)
    log.info("bulk_started", bulk_action_id=action_id, kind=request.kind.value, items=len(chosen))
    return action


# -- dry run --------------------------------------------------------------------------------

PLAN_SAMPLE = 20


@dataclass(frozen=True, slots=True)
class BulkPlan:
    """What `start` would do with the same request now, chosen by the same code: how many
    PRs it acts on in which orgs, and what it skips and why. Nothing is recorded."""

    campaign: str
    kind: BulkKind
    params: dict[str, Any]
    prs: int  # changesets acted on that have a PR
    without_pr: int  # changesets acted on that have none yet (close: not published any more)
    executions: int  # retry: failed executions of the latest preview queued again
    by_org: dict[str, int]  # what is acted on per org (close: the PRs closed)
    skipped: dict[str, int]  # items recorded as skipped at once, by why
    repos: tuple[str, ...]  # the first `PLAN_SAMPLE` repositories acted on
    spec_version: int | None = None  # publish, update-template: the version they take

    @property
    def acting(self) -> int:
        return self.prs + self.without_pr + self.executions

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def sentence(self) -> str:
        """The plan in one sentence, as the UI's confirmation and `--dry-run` say it."""
        orgs = ", ".join(f"{org}: {n}" for org, n in self.by_org.items())
        where = f" in {_n(len(self.by_org), 'org')} ({orgs})" if self.by_org else ""
        prs = _n(self.prs, "pull request")
        match self.kind:
            case BulkKind.CLOSE:
                text = f"Close {prs}"
                if self.params.get("delete_branch") and self.prs:
                    text += " and delete " + ("its branch" if self.prs == 1 else "their branches")
                text += where
                if self.without_pr:
                    text += (
                        f"; {_n(self.without_pr, 'changeset')} with no PR yet "
                        f"{_are(self.without_pr)} not published any more"
                    )
            case BulkKind.REBASE:
                text = f"Update the branch of {prs}{where} with its base branch"
            case BulkKind.UNDRAFT:
                text = f"Mark {_n(self.prs, 'draft pull request')}{where} ready for review"
            case BulkKind.COMMENT:
                text = f"Post one comment on each of {prs}{where}"
            case BulkKind.UPDATE_TEMPLATE:
                text = (
                    f"Give {_n(self.prs, 'open pull request')}{where} the title, body, labels, "
                    f"reviewers and assignees of spec version {self.spec_version}"
                )
            case BulkKind.PUBLISH:
                text = (
                    f"Publish {_n(self.acting, 'patch', 'patches')} of the latest preview"
                    f"{where} under the per-org budgets"
                )
            case BulkKind.RETRY:
                parts = [
                    _n(n, one)
                    for n, one in (
                        (self.prs + self.without_pr, "failed changeset"),
                        (self.executions, "failed execution"),
                    )
                    if n
                ]
                text = f"Retry {' and '.join(parts) or 'nothing'}{where}"
        if self.skipped:
            why = ", ".join(f"{reason}: {n}" for reason, n in self.skipped.items())
            text += (
                f"; {_n(self.skipped_total, 'selected changeset')} {_are(self.skipped_total)} "
                f"skipped ({why})"
            )
        if not self.acting:
            text += "; nothing would change"
        return text + "."


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _are(count: int) -> str:
    return "is" if count == 1 else "are"


def _org_of(repo: str) -> str:
    return repo.split("/", 1)[0].lower()


def plan(ctx: AppContext, campaign_ref: str, request: BulkRequest) -> BulkPlan:
    """A dry run of `start`: the same checks and the same choice of items, nothing changed."""
    _check(request)
    with ctx.db.transaction() as conn:
        campaign = campaign_store.get_campaign(conn, campaign_ref)
        if request.kind in {BulkKind.PUBLISH, BulkKind.UPDATE_TEMPLATE}:
            return _publish_plan(conn, campaign, request)
        chosen, seen = _choose_with(conn, campaign.id, request)
    by_org: dict[str, int] = {}
    skipped: dict[str, int] = {}
    prs = without_pr = executions = 0
    acted: list[str] = []
    for item in chosen:
        if item.state is BulkItemState.SKIPPED:
            why = item.detail or "nothing to do"
            skipped[why] = skipped.get(why, 0) + 1
            continue
        changeset = seen.get(item.changeset_id) if item.changeset_id is not None else None
        if item.execution_id is not None:
            executions += 1
        elif changeset is not None and changeset.pr_number is not None:
            prs += 1
        else:
            without_pr += 1
        acted.append(item.repo)
        if (
            request.kind is BulkKind.CLOSE
            and item.execution_id is None
            and not (changeset is not None and changeset.pr_number is not None)
        ):
            continue  # close: `by_org` counts the PRs closed
        org = changeset.org if changeset is not None else _org_of(item.repo)
        by_org[org] = by_org.get(org, 0) + 1
    return BulkPlan(
        campaign=campaign.name,
        kind=request.kind,
        params=request.params(),
        prs=prs,
        without_pr=without_pr,
        executions=executions,
        by_org=dict(sorted(by_org.items(), key=lambda kv: (-kv[1], kv[0]))),
        skipped=dict(sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0]))),
        repos=tuple(acted[:PLAN_SAMPLE]),
    )


def _publish_plan(conn: Connection, campaign: Campaign, request: BulkRequest) -> BulkPlan:
    """publish: the latest preview's patches the filter keeps; update-template: the open PRs
    it keeps, published again (as `_publish` does)."""
    flt = request.flt
    repos = flt.repos
    prs = 0
    if request.kind is BulkKind.UPDATE_TEMPLATE:
        repos = tuple(c.repo for c in _changesets(conn, campaign.id, flt) if c.state in OPEN)
        chosen: list[str] = []
        if repos:
            _, _, patches = publishing.patches_to_publish(
                conn,
                campaign,
                publishing.PublishFilter(repos=repos, repo_glob=flt.repo_glob, org=flt.org),
            )
            chosen = [e.repo for e in patches]
        prs = len(chosen)
    else:
        _, _, patches = publishing.patches_to_publish(
            conn,
            campaign,
            publishing.PublishFilter(repos=repos, repo_glob=flt.repo_glob, org=flt.org),
        )
        chosen = [e.repo for e in patches]
    by_org: dict[str, int] = {}
    for repo in chosen:
        by_org[_org_of(repo)] = by_org.get(_org_of(repo), 0) + 1
    return BulkPlan(
        campaign=campaign.name,
        kind=request.kind,
        params=request.params(),
        prs=prs,
        without_pr=len(chosen) - prs,
        executions=0,
        by_org=dict(sorted(by_org.items(), key=lambda kv: (-kv[1], kv[0]))),
        skipped={},
        repos=tuple(chosen[:PLAN_SAMPLE]),
        spec_version=campaign.latest_version,
    )


def _publish(
    ctx: AppContext, campaign_ref: str, request: BulkRequest, *, principal: Principal
) -> list[bulk_store.NewBulkItem]:
    """`publish`: the latest preview's patches of the filtered repos; `update-template`: the
    open PRs again, with the title, body, labels, reviewers and assignees the latest spec
    version renders for them. Both through `publishing.publish`, which queues them all (the
    budgets pace what opens)."""
    flt = request.flt
    repos = flt.repos
    if request.kind is BulkKind.UPDATE_TEMPLATE:
        with ctx.db.transaction() as conn:
            campaign = campaign_store.get_campaign(conn, campaign_ref)
            repos = tuple(c.repo for c in _changesets(conn, campaign.id, flt) if c.state in OPEN)
        if not repos:
            return []
    result = publishing.publish(
        ctx,
        campaign_ref,
        principal=principal,
        flt=publishing.PublishFilter(repos=repos, repo_glob=flt.repo_glob, org=flt.org),
        draft=request.draft,
    )
    with ctx.db.transaction() as conn:
        found = changeset_store.list_changesets(
            conn,
            changeset_store.ChangesetFilter(
                publish_batch=result.batch, limit=max(len(result.changesets), 1)
            ),
        )
    return [
        bulk_store.NewBulkItem(c.repo, c.id, state=BulkItemState.APPLIED, detail="queued")
        for c in found
    ]


def get(ctx: AppContext, action_id: int) -> BulkAction:
    with ctx.db.transaction() as conn:
        return bulk_store.get_action(conn, action_id)


def list_actions(
    ctx: AppContext,
    *,
    campaign_ref: str | None = None,
    states: tuple[str, ...] = (),
    before_id: int | None = None,
    limit: int = 100,
) -> list[BulkAction]:
    try:
        parsed = tuple(BulkState(s) for s in states)
    except ValueError:
        raise InvalidInputError(
            f"unknown bulk action state in {', '.join(states)}; known: "
            f"{', '.join(s.value for s in BulkState)}"
        ) from None
    with ctx.db.transaction() as conn:
        campaign_id = campaign_store.get_campaign(conn, campaign_ref).id if campaign_ref else None
        return bulk_store.list_actions(
            conn,
            bulk_store.BulkFilter(
                campaign_id=campaign_id, states=parsed, after_id=before_id, limit=limit
            ),
        )


def items(
    ctx: AppContext,
    action_id: int,
    *,
    states: tuple[str, ...] = (),
    after_id: int | None = None,
    limit: int = 1000,
) -> list[BulkItem]:
    try:
        parsed = tuple(BulkItemState(s) for s in states)
    except ValueError:
        raise InvalidInputError(
            f"unknown item state in {', '.join(states)}; known: "
            f"{', '.join(s.value for s in BulkItemState)}"
        ) from None
    with ctx.db.transaction() as conn:
        bulk_store.get_action(conn, action_id)
        return bulk_store.list_items(conn, action_id, states=parsed, after_id=after_id, limit=limit)


def cancel(ctx: AppContext, action_id: int, *, principal: Principal) -> BulkAction:
    """Stop a running bulk action: nothing more is asked, and what was asked and not done yet
    is withdrawn where it can be (a close, a comment, a branch update not started); a write
    the reconciler has started finishes."""
    now = ctx.clock.now()
    with ctx.db.transaction() as conn:
        action = bulk_store.get_action(conn, action_id, lock=True)
        if action.state is not BulkState.RUNNING:
            raise ConflictError(
                f"bulk action {action_id} is {action.state.value} already; only a running one "
                "can be cancelled",
                details={"state": action.state.value},
            )
        event_store.set_change_reason(conn, f"bulk:{action_id}:cancel")
        withdrawn = 0
        open_items = bulk_store.list_items(
            conn,
            action_id,
            states=(BulkItemState.PENDING, BulkItemState.APPLIED),
            limit=1_000_000,
        )
        for item in open_items:
            detail = "cancelled before it was asked"
            if item.state is BulkItemState.APPLIED:
                if withdraw(conn, ctx.settings, action, item, now=now):
                    withdrawn += 1
                    detail = "cancelled: the request was withdrawn"
                else:
                    detail = "cancelled: already queued, it may still happen"
            bulk_store.set_item(conn, item.id, BulkItemState.CANCELLED, detail=detail, now=now)
        bulk_store.finish_action(
            conn, action_id, BulkState.CANCELLED, now=now, cancelled_by=principal.name
        )
        audit_store.append_audit_event(
            conn,
            NewAuditEvent(
                actor=principal.name,
                action="bulk.cancel",
                campaign_id=action.campaign_id,
                target=f"bulk:{action_id}",
                request_id=principal.request_id,
                details={
                    "kind": action.kind.value,
                    "cancelled": len(open_items),
                    "withdrawn": withdrawn,
                },
            ),
            now=now,
        )
        found = bulk_store.get_action(conn, action_id)
    log.warning("bulk_cancelled", bulk_action_id=action_id, cancelled=len(open_items))
    return found
