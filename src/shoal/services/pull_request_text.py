"""A changeset's PR title and body, rendered by the reconciler (in a worker) right before it
opens the PR: templates are user code, and an API request never runs them.

`publish` stores the desired state with an empty title and body; a rendered title is never
empty (`render_pull_request` refuses one), so an empty one means "not rendered yet". Rows
stored before rendering moved here carry their rendered text and are used as they are.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from shoal.domain.campaigns import CampaignId, SpecVersion
from shoal.domain.changesets import Changeset, Desired
from shoal.domain.executions import DiffFile
from shoal.domain.runs import ExecutionId, Target
from shoal.publish.templates import pull_request_context, render_pull_request
from shoal.services.spec_cache import spec_of
from shoal.store import Database
from shoal.store import campaigns as campaign_store
from shoal.store import executions as execution_store

__all__ = ["TextInputs", "rendered_desired", "text_inputs"]


@dataclass(frozen=True, slots=True)
class TextInputs:
    """What rendering a changeset's text reads from the database."""

    version: SpecVersion
    files: tuple[DiffFile, ...]
    target: Target


def text_inputs(conn: Connection, changeset: Changeset) -> TextInputs:
    """The rows rendering `changeset`'s text needs, read in the caller's transaction."""
    assert changeset.desired is not None
    execution_id = ExecutionId(changeset.desired.execution_id)
    version = campaign_store.get_spec_version(
        conn, CampaignId(changeset.campaign_id), changeset.desired.spec_version
    )
    files = execution_store.files_by_execution(conn, [execution_id])
    target = execution_store.targets_of(conn, [execution_id])[execution_id]
    return TextInputs(version, tuple(files.get(execution_id, ())), target)


def rendered_desired(
    db: Database, changeset: Changeset, inputs: TextInputs | None = None
) -> Desired:
    """The changeset's desired state with its title and body rendered, from `inputs` when
    the caller read them already. Raises `TemplateRenderError` (code `template_invalid`,
    naming the field) for a bad template."""
    desired = changeset.desired
    assert desired is not None
    if desired.title:
        return desired
    if inputs is None:
        with db.transaction() as conn:
            inputs = text_inputs(conn, changeset)
    spec = spec_of(inputs.version)
    context = pull_request_context(
        repo=inputs.target.repo,
        repo_meta=inputs.target.meta,
        campaign_id=changeset.campaign_id,
        campaign_name=desired.campaign_name,
        campaign_description=spec.description,
        spec_version=desired.spec_version,
        spec_hash=desired.spec_hash,
        files=inputs.files,
    )
    title, body = render_pull_request(spec.changeset.title, spec.changeset.body, context)
    return dataclasses.replace(desired, title=title, body=body)
