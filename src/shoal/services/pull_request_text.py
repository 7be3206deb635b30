"""A changeset's PR title and body, rendered by the reconciler (in a worker) right before it
opens the PR: templates are user code, and an API request never runs them.

`publish` stores the desired state with an empty title and body; a rendered title is never
empty (`render_pull_request` refuses one), so an empty one means "not rendered yet". Rows
stored before rendering moved here carry their rendered text and are used as they are.
"""

from __future__ import annotations

import dataclasses

from shoal.domain.campaigns import CampaignId
from shoal.domain.changesets import Changeset, Desired
from shoal.domain.runs import ExecutionId
from shoal.publish.templates import pull_request_context, render_pull_request
from shoal.services.spec_cache import spec_of
from shoal.store import Database
from shoal.store import campaigns as campaign_store
from shoal.store import executions as execution_store

__all__ = ["rendered_desired"]


def rendered_desired(db: Database, changeset: Changeset) -> Desired:
    """The changeset's desired state with its title and body rendered. Raises
    `TemplateRenderError` (code `template_invalid`, naming the field) for a bad template."""
    desired = changeset.desired
    assert desired is not None
    if desired.title:
        return desired
    execution_id = ExecutionId(desired.execution_id)
    with db.transaction() as conn:
        version = campaign_store.get_spec_version(
            conn, CampaignId(changeset.campaign_id), desired.spec_version
        )
        files = execution_store.files_by_execution(conn, [execution_id])
        target = execution_store.targets_of(conn, [execution_id])[execution_id]
    spec = spec_of(version)
    context = pull_request_context(
        repo=target.repo,
        repo_meta=target.meta,
        campaign_id=changeset.campaign_id,
        campaign_name=desired.campaign_name,
        campaign_description=spec.description,
        spec_version=desired.spec_version,
        spec_hash=desired.spec_hash,
        files=files.get(execution_id, ()),
    )
    title, body = render_pull_request(spec.changeset.title, spec.changeset.body, context)
    return dataclasses.replace(desired, title=title, body=body)
