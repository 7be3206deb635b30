"""Running a published changeset's steps again on a new base, for the reconciler.

When a PR conflicts with its moved base and the campaign's policy for merge conflicts is
`overwrite`, the patch made on the old base is not forced onto the new one (where the base
changed the same lines, it no longer applies): the campaign's steps run again on the base
as GitHub shows it now, and their patch is pushed with a lease.

The steps run as an ordinary run of kind `publish`, with one target (the repository at the
new base, its `meta.changeset_id` naming the changeset) and one execution, run by the
`execution.run` task like a preview's: the same sandbox, secret checks, patch and log,
readable with `shoal runs show`. The execution queues the changeset's reconcile when it
finishes; the reconciler then finds it here by changeset, spec version and base.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
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

__all__ = ["Reexecution", "ReexecutionFailedError", "reexecuted_desired", "reexecution"]

log = structlog.get_logger("shoal.reexecute")

ACTOR = "shoal"


class ReexecutionFailedError(ShoalError):
    """The steps failed on the new base (or their run was cancelled): nothing is pushed."""

    code = "reexecution_failed"


@dataclass(frozen=True, slots=True)
class Reexecution:
    execution: Execution
    cancelled: bool  # its run was cancelled: it never finishes
    asked: bool  # asked by this call (the caller audits it)


def reexecution(
    conn: Connection, changeset: Changeset, base_sha: str, *, now: datetime, max_attempts: int
) -> Reexecution:
    """The changeset's execution of its spec version on `base_sha`: the one asked before,
    or a new run of kind `publish` with one target and one queued execution."""
    desired = changeset.desired
    assert desired is not None
    campaign = CampaignId(changeset.campaign_id)
    version = campaign_store.get_spec_version(conn, campaign, desired.spec_version)
    found = execution_store.find_changeset_execution(conn, changeset.id, version.id, base_sha)
    if found is not None:
        return Reexecution(found[0], found[1], asked=False)
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
                reason=f"changeset {changeset.id}: its PR conflicts with {desired.base_branch}",
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
    return Reexecution(execution_store.get_execution(conn, execution_id), False, asked=True)


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
        patch_key=execution.patch_key,
        patch_sha256=execution.patch_sha256,
        run_id=execution.run_id,
        execution_id=execution.id,
        title="",
        body="",
        **commit_fields(spec_of(version)),
    )
