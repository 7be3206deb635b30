"""Publishing as users drive it: publish (all, a filtered subset, one repo), status with
budgets and ETAs, and the kill switch and pause, every one audited.

Publishing only changes desired state and enqueues reconcile tasks, in one transaction; the
reconciler (`services.reconciling`) is the only code that writes to GitHub.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

import structlog
from sqlalchemy.engine import Connection

from shoal.domain.audit import NewAuditEvent
from shoal.domain.auth import Principal
from shoal.domain.campaigns import Campaign, CampaignId, SpecVersion
from shoal.domain.changesets import Changeset, ChangesetId, Desired
from shoal.domain.errors import ConflictError, InvalidInputError, NotFoundError
from shoal.domain.executions import DiffFile, ExecutionState
from shoal.domain.globs import glob_matcher
from shoal.domain.runs import Execution, Run, RunKind, Target
from shoal.domain.tasks import NewTask
from shoal.services.context import AppContext
from shoal.services.publish_forecast import Forecast, forecast
from shoal.services.spec_cache import spec_of
from shoal.services.status import Holds, holds
from shoal.spec import CampaignSpec
from shoal.store import audit as audit_store
from shoal.store import bulk_actions as bulk_store
from shoal.store import campaigns as campaign_store
from shoal.store import changesets as changeset_store
from shoal.store import controls as control_store
from shoal.store import executions as execution_store
from shoal.store import runs as run_store
from shoal.store import tasks as task_store

__all__ = [
    "RECONCILE_TASK",
    "NewerPatch",
    "PublishFilter",
    "PublishResult",
    "commit_fields",
    "enqueue_reconciles",
    "latest_preview",
    "patches_to_publish",
    "publish",
    "reconcile_task",
    "set_control",
]

log = structlog.get_logger("shoal.publish")

RECONCILE_TASK = "changeset.reconcile"


def reconcile_task(changeset_id: ChangesetId, *, delay_s: float = 0.0) -> NewTask:
    return NewTask(
        kind=RECONCILE_TASK,
        dedupe_key=f"changeset:{changeset_id}",
        payload={"changeset_id": changeset_id},
        delay_s=delay_s,
    )


def enqueue_reconciles(
    conn: Connection,
    changeset_ids: Iterable[ChangesetId],
    *,
    now: datetime,
    max_attempts: int,
    delay_s: float = 0.0,
) -> None:
    """Queue each changeset's reconcile task to run now (or in `delay_s`); one already
    queued for later is brought forward (the queue keeps one live task per changeset)."""
    for changeset_id in changeset_ids:
        task = reconcile_task(changeset_id, delay_s=delay_s)
        task_store.enqueue(conn, task, now=now, max_attempts=max_attempts)


@dataclass(frozen=True, slots=True)
class PublishFilter:
    repos: tuple[str, ...] = ()  # exact owner/name
    repo_glob: str | None = None
    org: str | None = None
    path_glob: str | None = None

    def describe(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in {
                "repos": list(self.repos) or None,
                "repo_glob": self.repo_glob,
                "org": self.org,
                "path_glob": self.path_glob,
            }.items()
            if v
        }


@dataclass(frozen=True, slots=True)
class NewerPatch:
    """A changeset publish left on its patch: a later run of the same spec version made it
    (the steps ran again on a newer base) than the preview being published."""

    changeset: ChangesetId
    repo: str
    run_id: int  # the run its patch comes from

    def describe(self, published_run: int) -> str:
        return (
            f"{self.repo} keeps the patch of run {self.run_id}, made on a newer base than "
            f"run {published_run}'s; `shoal preview` then `shoal publish` to publish a newer "
            "one"
        )


@dataclass(frozen=True, slots=True)
class PublishResult:
    campaign: str
    run_id: int
    spec_version: int
    changesets: list[ChangesetId]
    batch: int  # follow this request's changesets alone: `changesets?batch=` and `/summary`
    forecast: Forecast
    holds: Holds  # kill switch or pause: nothing is written to GitHub until released
    # Changesets whose patch was left as it was: it is newer than this run's.
    newer_patches: tuple[NewerPatch, ...] = ()
    repos: tuple[str, ...] = ()  # the repositories published, in the order asked


def latest_preview(conn: Any, campaign_id: CampaignId, version: int) -> Run:
    """The preview that publishing the spec version publishes: its newest preview that
    finished selecting and was not cancelled."""
    found = run_store.list_runs(
        conn, run_store.RunFilter(campaign_id=campaign_id, kind=RunKind.PREVIEW, limit=20)
    )
    for run in found:
        # A cancelled preview's patches are incomplete, and cancelling one says "not this".
        if run.spec_version != version or run.cancelled_at is not None:
            continue
        if run.selection_done_at is not None:
            return run
    raise InvalidInputError(
        f"spec version {version} has no finished preview that was not cancelled; run `shoal "
        "preview` first: "
        "publishing opens PRs only for patches a preview has shown",
        details={"spec_version": version},
    )


def _split_reviewers(reviewers: list[str], owner: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """User logins, and the slugs of the teams of the repository's own org: a campaign
    across orgs names each org's team, and GitHub only asks a repository's own teams."""
    users = tuple(r for r in reviewers if "/" not in r)
    teams = tuple(
        r.split("/", 1)[1]
        for r in reviewers
        if "/" in r and r.split("/", 1)[0].lower() == owner.lower()
    )
    return users, teams


def _desired(
    spec: CampaignSpec,
    run: Run,
    spec_hash: str,
    execution: Execution,
    target: Target,
    files: tuple[DiffFile, ...],
    *,
    draft: bool | None,
) -> Desired:
    assert execution.patch_key and execution.patch_sha256 and target.base_sha
    owner = target.repo.partition("/")[0]
    users, teams = _split_reviewers(list(spec.changeset.reviewers), owner)
    return Desired(
        publish=True,
        draft=spec.changeset.draft if draft is None else draft,
        base_branch=target.base_branch or str(target.meta.get("default_branch") or "main"),
        base_sha=target.base_sha,
        default_branch=str(target.meta.get("default_branch") or target.base_branch or ""),
        patch_key=execution.patch_key,
        patch_sha256=execution.patch_sha256,
        # Rendered by the reconciler in a worker (services.pull_request_text): templates are
        # user code and never run in an API request.
        title="",
        body="",
        labels=tuple(spec.changeset.labels),
        reviewers=users,
        team_reviewers=teams,
        assignees=tuple(spec.changeset.assignees),
        campaign_name=run.campaign,
        spec_version=run.spec_version,
        spec_hash=spec_hash,
        run_id=run.id,
        execution_id=execution.id,
        daily_cap=spec.policy.publish.max_prs_per_day_per_org,
        commit_mode=spec.changeset.commit.mode,
        drift=drift_setting(spec),
        max_open_prs=spec.policy.publish.max_open_prs,
        auto_merge=auto_merge_setting(spec),
        branch_deletion=spec.policy.delete_branch,
        base_moved_interval_s=spec.policy.base_moved_interval,
        **commit_fields(spec),
    )


class CommitFields(TypedDict):
    commit_message: str
    author_name: str
    author_email: str


def commit_fields(spec: CampaignSpec) -> CommitFields:
    """The desired state's commit message and author, from the spec."""
    return CommitFields(
        commit_message=spec.changeset.commit.message or spec.changeset.title,
        author_name=spec.changeset.commit.author.name,
        author_email=spec.changeset.commit.author.email,
    )


def auto_merge_setting(spec: CampaignSpec) -> str | None:
    """The merge method to enable GitHub auto-merge with, None when the spec leaves it off."""
    auto = spec.changeset.auto_merge
    return auto.method if auto.enabled else None


def drift_setting(spec: CampaignSpec) -> str | dict[str, str]:
    """The spec's drift policy as the reconciler reads it (`reconcile.plan.DriftPolicy`)."""
    value = spec.policy.drift
    return value if isinstance(value, str) else value.as_mapping()


def _selected(executions: list[Execution], flt: PublishFilter) -> list[Execution]:
    wanted = {r.lower() for r in flt.repos}
    matches = glob_matcher(flt.repo_glob) if flt.repo_glob else None
    chosen = []
    for e in executions:
        if wanted and e.repo.lower() not in wanted:
            continue
        if flt.org and e.repo.split("/", 1)[0].lower() != flt.org.lower():
            continue
        if matches is not None and not matches(e.repo):
            continue
        chosen.append(e)
    return chosen


def _in_turn(new: list[changeset_store.NewChangeset]) -> list[changeset_store.NewChangeset]:
    """One installation's changesets after another's, in turn, each keeping its own order.

    The queue hands tasks out in the order they were enqueued and GitHub paces writes per
    installation: in repository order, every worker slot would wait on the first org's write
    limits while the other orgs' installations sat idle."""
    turns: dict[object, list[changeset_store.NewChangeset]] = {}
    for c in new:
        turns.setdefault(c.installation_id or c.org, []).append(c)
    return [c for turn in itertools.zip_longest(*turns.values()) for c in turn if c is not None]


def _on_current_branches(
    existing: list[Changeset], new: list[changeset_store.NewChangeset]
) -> list[changeset_store.NewChangeset]:
    """A changeset that moved to `<branch>-N` (new_pr drift) keeps its branch: publishing
    again updates it rather than starting over on the PR a human was left with."""
    moved = {
        (c.repo.lower(), c.branch.rsplit("-", 1)[0]): c.branch
        for c in existing
        if c.observed.generation > 1
    }
    return [
        dataclasses.replace(c, branch=moved.get((c.repo.lower(), c.branch), c.branch)) for c in new
    ]


def _not_older(
    existing: list[Changeset], new: list[changeset_store.NewChangeset], run: Run
) -> tuple[list[changeset_store.NewChangeset], list[NewerPatch]]:
    """A changeset whose patch comes from a later run of the same spec version than the
    preview being published (its steps ran again on a newer base: drift) keeps that patch,
    with its base and commit: publishing an older preview never takes a PR back to an older
    patch on an older base. The rest of the publish (draft, taking back a flagged PR) applies
    as usual."""
    by_branch = {(c.repo.lower(), c.branch): c for c in existing if c.desired is not None}
    kept, newer = [], []
    for change in new:
        current = by_branch.get((change.repo.lower(), change.branch))
        old, wanted = (current.desired if current else None), change.desired
        if (
            current is not None
            and old is not None
            and old.spec_version == wanted.spec_version
            and old.run_id > run.id
        ):
            wanted = dataclasses.replace(
                wanted,
                base_sha=old.base_sha,
                current_on=old.current_on,
                patch_key=old.patch_key,
                patch_sha256=old.patch_sha256,
                run_id=old.run_id,
                execution_id=old.execution_id,
                commit_message=old.commit_message,
                author_name=old.author_name,
                author_email=old.author_email,
            )
            newer.append(NewerPatch(current.id, current.repo, old.run_id))
        kept.append(dataclasses.replace(change, desired=wanted))
    return kept, newer


def _keeping_commits(
    existing: list[Changeset], new: list[changeset_store.NewChangeset]
) -> list[changeset_store.NewChangeset]:
    """A changeset whose new desired state makes the same Patch keeps its commit: the base,
    message and author it has (so its push key, and the commit's sha, stay the same). A
    version that changes only the PR's text pushes nothing: the reconciler updates the PR
    in place. Nor does a preview that read a moved base and made the same Patch, when the
    branch already holds that Patch's commit. A push of that commit that is still owed (a
    worker died in it) is retried as the very same commit. A new Patch, commit mode or base
    branch is a new commit, on the base the preview read, with the new version's message."""
    by_branch = {(c.repo.lower(), c.branch): c for c in existing if c.desired is not None}
    kept = []
    for change in new:
        current = by_branch.get((change.repo.lower(), change.branch))
        old, wanted = (current.desired if current else None), change.desired
        same = old is not None and (old.patch_sha256, old.commit_mode, old.base_branch) == (
            wanted.patch_sha256,
            wanted.commit_mode,
            wanted.base_branch,
        )
        if current is not None and old is not None and same:
            on_branch = current.observed.push_key == old.push_key
            if on_branch or old.base_sha == wanted.base_sha:
                # The preview made this Patch on the base it read: current there.
                moved = wanted.base_sha != old.base_sha
                wanted = dataclasses.replace(
                    wanted,
                    base_sha=old.base_sha,
                    current_on=wanted.base_sha if moved else wanted.current_on,
                    patch_key=old.patch_key,
                    commit_message=old.commit_message,
                    author_name=old.author_name,
                    author_email=old.author_email,
                )
        kept.append(dataclasses.replace(change, desired=wanted))
    return kept


def _deselect(
    conn: Connection, campaign_id: CampaignId, run: Run, spec: CampaignSpec, *, now: datetime
) -> list[ChangesetId]:
    """Changesets whose repository left the selection (not a target of the preview being
    published): `on_deselect: close` closes an open PR (and deletes its branch as the new
    spec's `delete_branch` says), `detach` leaves it open and stops tracking it; one without
    a PR is no longer published either way."""
    selected = {
        e.repo.lower()
        for e in execution_store.list_executions(
            conn, execution_store.ExecutionFilter(run_id=run.id, limit=100_000)
        )
    }
    published = changeset_store.list_changesets(
        conn, changeset_store.ChangesetFilter(campaign_id=campaign_id, publish=True, limit=100_000)
    )
    changed: list[ChangesetId] = []
    for c in published:
        if c.repo.lower() in selected or c.desired is None:
            continue
        pr_open = c.pr_number is not None and c.observed.pr_state not in {"closed", "merged"}
        if spec.policy.on_deselect == "close" and pr_open:
            if c.desired.close:
                continue
            closing = dataclasses.replace(
                c.desired, close=True, branch_deletion=spec.policy.delete_branch
            )
            bulk_store.request_change(conn, c.id, closing, now=now)
        else:
            bulk_store.request_change(conn, c.id, c.desired, now=now, publish=False)
        changed.append(c.id)
    if changed:
        log.info("changesets_deselected", count=len(changed), policy=spec.policy.on_deselect)
    return changed


def patches_to_publish(
    conn: Connection, campaign: Campaign, flt: PublishFilter
) -> tuple[SpecVersion, Run, list[Execution]]:
    """The latest spec version, its latest preview, and that preview's patches `flt` keeps:
    what a publish (or its dry run) is for."""
    if campaign.latest_version is None:
        raise InvalidInputError(f"campaign {campaign.name!r} has no spec yet")
    version = campaign_store.get_spec_version(conn, campaign.id, campaign.latest_version)
    run = latest_preview(conn, campaign.id, version.version)
    patches = execution_store.list_executions(
        conn,
        execution_store.ExecutionFilter(
            run_id=run.id,
            states=(ExecutionState.PATCH,),
            path_glob=flt.path_glob,
            limit=100_000,
        ),
    )
    chosen = _selected(patches, flt)
    missing = sorted({r.lower() for r in flt.repos} - {e.repo.lower() for e in chosen})
    if missing:
        raise NotFoundError(
            f"no patch to publish for {', '.join(missing)} in run {run.id}; "
            f"`shoal runs show {run.id}` lists what each repository produced",
            details={"repos": missing, "run": run.id},
        )
    return version, run, chosen


def publish(
    ctx: AppContext,
    campaign_ref: str,
    *,
    principal: Principal,
    flt: PublishFilter = PublishFilter(),
    draft: bool | None = None,
    run_id: int | None = None,
    dry_run: bool = False,
) -> PublishResult:
    """Ask for PRs for the patches of the latest spec version's preview (filtered).

    `run_id`: refuse unless that preview is the one published (a caller that showed a run's
    results publishes those, not a newer preview's). `dry_run`: the same request, its
    changesets and forecast computed in a savepoint that is rolled back: what publishing
    would do now, with nothing changed, queued or audited."""
    now = ctx.clock.now()
    with ctx.db.transaction() as conn:
        trial = conn.begin_nested() if dry_run else None
        campaign = campaign_store.get_campaign(conn, campaign_ref)
        version, run, chosen = patches_to_publish(conn, campaign, flt)
        spec = spec_of(version)
        if run_id is not None and run.id != run_id:
            raise ConflictError(
                f"run {run_id} is not what publishing {campaign.name!r} publishes now: run "
                f"{run.id} is the latest preview of spec version {version.version}",
                details={"run": run_id, "latest_preview": run.id},
            )
        files = execution_store.files_by_execution(conn, [e.id for e in chosen])
        targets = execution_store.targets_of(conn, [e.id for e in chosen])
        new = []
        for execution in chosen:
            target = targets[execution.id]
            desired = _desired(
                spec, run, version.spec_hash, execution, target, files[execution.id], draft=draft
            )
            new.append(
                changeset_store.NewChangeset(
                    repo=target.repo,
                    org=target.repo.split("/", 1)[0].lower(),
                    branch=spec.changeset.branch,
                    installation_id=target.installation_id,
                    repo_github_id=target.repo_github_id,
                    desired=desired,
                )
            )
        batch = changeset_store.next_publish_batch(conn)
        existing = changeset_store.list_changesets(
            conn, changeset_store.ChangesetFilter(campaign_id=campaign.id, limit=100_000)
        )
        new, newer = _not_older(existing, _on_current_branches(existing, new), run)
        new = _keeping_commits(existing, new)
        ids = changeset_store.upsert_for_publish(
            conn, campaign.id, _in_turn(new), now=now, batch=batch
        )
        deselected = _deselect(conn, campaign.id, run, spec, now=now)
        enqueue_reconciles(
            conn, [*ids, *deselected], now=now, max_attempts=ctx.settings.task_max_attempts
        )
        queued = changeset_store.list_changesets(
            conn,
            changeset_store.ChangesetFilter(
                campaign_id=campaign.id, publish_batch=batch, limit=max(len(ids), 1)
            ),
        )
        expected = forecast(
            conn,
            ctx.settings,
            now=now,
            campaign_id=campaign.id,
            queued=queued,
            campaign_cap=spec.policy.publish.max_prs_per_day_per_org,
        )
        held = holds(conn, campaign.id)
        if trial is not None:
            trial.rollback()
            return PublishResult(
                campaign.name,
                run.id,
                version.version,
                ids,
                0,  # no publish request was made
                expected,
                held,
                tuple(newer),
                tuple(c.repo for c in new),
            )
        audit_store.append_audit_event(
            conn,
            NewAuditEvent(
                actor=principal.name,
                action="campaign.publish",
                campaign_id=campaign.id,
                spec_version=version.version,
                target=f"campaign:{campaign.name}",
                request_id=principal.request_id,
                details={
                    "changesets": len(ids),
                    "deselected": len(deselected),
                    "batch": batch,
                    "run": run.id,
                    "draft": draft,
                    "filter": flt.describe(),
                    "newer_patches": [n.repo for n in newer],
                    "today": expected.today,
                    "later": expected.later,
                    "held": list(held.reasons),
                },
            ),
            now=now,
        )
    log.info(
        "publish_requested",
        campaign=campaign.name,
        changesets=len(ids),
        run_id=run.id,
        today=expected.today,
        later=expected.later,
        held=list(held.reasons),
    )
    if newer:
        log.info("publish_kept_newer_patches", campaign=campaign.name, count=len(newer))
    return PublishResult(
        campaign.name,
        run.id,
        version.version,
        ids,
        batch,
        expected,
        held,
        tuple(newer),
        tuple(c.repo for c in new),
    )


def set_control(
    ctx: AppContext,
    *,
    principal: Principal,
    campaign_ref: str | None,
    killed: bool | None = None,
    paused: bool | None = None,
    reason: str = "",
) -> str:
    """Kill switch (global or campaign) and pause (campaign). Every GitHub write reads the
    controls at its gate, right before it leaves, holding the write fence until answered;
    setting a hold takes the fence exclusively, so once this returns no write leaves."""
    now = ctx.clock.now()
    with ctx.db.transaction() as conn:
        if killed or paused:
            # Wait for the writes already past their gate to be answered, and keep the next
            # ones at the gate until the hold is set: when this returns, no write is leaving.
            changeset_store.close_write_fence(conn)
        campaign = None
        if campaign_ref is not None:
            campaign = campaign_store.get_campaign(conn, campaign_ref)
            scope = control_store.campaign_scope(campaign.id)
        elif paused is not None:
            raise InvalidInputError("pause and resume apply to a campaign; name one")
        else:
            scope = control_store.GLOBAL
        control_store.set_control(
            conn, scope, killed=killed, paused=paused, reason=reason, actor=principal.name, now=now
        )
        if campaign is not None and (killed or paused):
            # A held campaign takes no budget turn: the other campaigns sharing its orgs
            # that wait for a later day look again now, and may go today.
            woken = changeset_store.budget_waiters_sharing_orgs(conn, campaign.id)
            enqueue_reconciles(conn, woken, now=now, max_attempts=ctx.settings.task_max_attempts)
        action = {
            (True, None): "publish.kill",
            (False, None): "publish.unkill",
            (None, True): "publish.pause",
            (None, False): "publish.resume",
        }[(killed, paused)]
        audit_store.append_audit_event(
            conn,
            NewAuditEvent(
                actor=principal.name,
                action=action,
                campaign_id=campaign.id if campaign else None,
                target=scope,
                request_id=principal.request_id,
                details={"reason": reason},
            ),
            now=now,
        )
    log.warning(action.replace(".", "_"), scope=scope, reason=reason, actor=principal.name)
    return scope
