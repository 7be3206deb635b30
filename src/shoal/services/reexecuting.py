"""Running a published changeset's steps again on a new base, for the reconciler.

When a PR conflicts with its moved base (or its base moved, and the campaign asks for it)
and the campaign's policy for that kind is `overwrite`, the patch made on the old base is not
forced onto the new one: the campaign's steps run again on the base as GitHub shows it now,
and their patch is pushed with a lease if it differs from the one on the branch.

The steps run as an ordinary run of kind `publish`, with one target (the repository at the
new base, its `meta.changeset_id` naming the changeset) and one execution, run by the
`execution.run` task like a preview's: the same sandbox, secret checks, patch and log,
readable with `shoal runs show`. The execution queues the changeset's reconcile when it
finishes; the reconciler then finds it here as the changeset's latest execution. One runs at
a time per changeset: a base that moves while it runs is taken up once it is done.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

import structlog
from sqlalchemy.engine import Connection

from shoal.domain.campaigns import CampaignId
from shoal.domain.changesets import Changeset, Desired
from shoal.domain.errors import ShoalError
from shoal.domain.runs import Execution, ExecutionId, RunKind
from shoal.services.publishing import commit_fields
from shoal.services.runs import execution_task
from shoal.services.spec_cache import spec_of
from shoal.store import campaigns as campaign_store
from shoal.store import executions as execution_store
from shoal.store import runs as run_store
from shoal.store import targets as target_store
from shoal.store import tasks as task_store

__all__ = [
    "ReexecutionFailedError",
    "ask_reexecution",
    "latest_reexecution",
    "reexecuted_desired",
    "unchanged_desired",
]

log = structlog.get_logger("shoal.reexecute")

ACTOR = "shoal"


class ReexecutionFailedError(ShoalError):
    """The steps failed on the new base (or their run was cancelled): nothing is pushed."""

    code = "reexecution_failed"


def latest_reexecution(
    conn: Connection, changeset: Changeset
) -> execution_store.ChangesetExecution | None:
    """The changeset's newest execution of its spec version run again on some base, from a
    run no older than the one its desired state came from (a later preview published
    supersedes earlier ones)."""
    desired = changeset.desired
    assert desired is not None
    version = campaign_store.get_spec_version(
        conn, CampaignId(changeset.campaign_id), desired.spec_version
    )
    return execution_store.latest_changeset_execution(
        conn,
        campaign_id=changeset.campaign_id,
        changeset_id=changeset.id,
        repo=changeset.repo,
        spec_version_id=version.id,
        since_run=desired.run_id,
    )


def ask_reexecution(
    conn: Connection,
    changeset: Changeset,
    base_sha: str,
    *,
    why: str,
    now: datetime,
    max_attempts: int,
) -> Execution:
    """A new run of kind `publish` of the changeset's spec version with one target, the
    repository at `base_sha`, and its one execution queued."""
    desired = changeset.desired
    assert desired is not None
    campaign = CampaignId(changeset.campaign_id)
    version = campaign_store.get_spec_version(conn, campaign, desired.spec_version)
    made_on = execution_store.targets_of(conn, [ExecutionId(desired.execution_id)])
    previous = made_on.get(ExecutionId(desired.execution_id))
    meta = dict(previous.meta) if previous is not None else {}
    if "head_sha" in meta:
        meta["head_sha"] = base_sha
    run_id = run_store.insert_run(
        conn,
        campaign_id=campaign,
        spec_version_id=version.id,
        kind=RunKind.PUBLISH,
        created_by=ACTOR,
        now=now,
    )
    targets = target_store.insert_targets(
        conn,
        run_id,
        [
            target_store.NewTarget(
                repo=changeset.repo,
                repo_github_id=changeset.repo_github_id,
                installation_id=changeset.installation_id,
                included=True,
                reason=f"changeset {changeset.id}: {why}",
                base_branch=desired.base_branch,
                base_sha=base_sha,
                meta={**meta, "changeset_id": changeset.id},
            )
        ],
    )
    execution_store.insert_executions(conn, run_id, [(targets[changeset.repo], changeset.repo)])
    (execution_id,) = execution_store.list_execution_ids(conn, run_id)
    task_store.enqueue(conn, execution_task(execution_id), now=now, max_attempts=max_attempts)
    run_store.mark_selection_done(conn, run_id, now=now)
    log.info("changeset_reexecution_asked", run_id=run_id, base_sha=base_sha)
    return execution_store.get_execution(conn, execution_id)


def unchanged_desired(changeset: Changeset, found: execution_store.ChangesetExecution) -> Desired:
    """The steps made the very Patch again on `found`'s base: the commit stays where it is
    (nothing to push), and the desired state records that the Patch is current there and
    which execution said so (a publish of an older run does not take it back)."""
    desired = changeset.desired
    assert desired is not None
    return dataclasses.replace(
        desired,
        current_on=found.base_sha,
        run_id=found.execution.run_id,
        execution_id=found.execution.id,
    )


def reexecuted_desired(conn: Connection, changeset: Changeset, execution: Execution) -> Desired:
    """The desired state with the new patch on the base it was made on, the commit message
    and author of the changeset's spec version, and the PR's text to render again (it may
    name the patch's files)."""
    desired = changeset.desired
    assert desired is not None and execution.patch_key and execution.patch_sha256
    version = campaign_store.get_spec_version(
        conn, CampaignId(changeset.campaign_id), desired.spec_version
    )
    target = execution_store.targets_of(conn, [execution.id])[execution.id]
    assert target.base_sha is not None
    return dataclasses.replace(
        desired,
        base_sha=target.base_sha,
        current_on=None,
        patch_key=execution.patch_key,
        patch_sha256=execution.patch_sha256,
        run_id=execution.run_id,
        execution_id=execution.id,
        title="",
        body="",
        **commit_fields(spec_of(version)),
    )
