"""Campaigns and changesets for the UI's campaign pages: a spec applied through the use case,
changesets written through the store as publish, the reconciler and GitHub's readers write
them (so that their state history is the trigger's), at the moments a test chooses."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from shoal.domain.auth import Principal, Role
from shoal.domain.campaigns import Campaign
from shoal.domain.changesets import ChangesetId, Observed, ReconcilerState
from shoal.services import campaigns
from shoal.services.context import AppContext
from shoal.store import changesets as changeset_store
from tests.bulk.conftest import DESIRED

OPERATOR = Principal(name="token:test-operator", role=Role.OPERATOR)


def spec(name: str, *, description: str = "", title: str = "bump") -> str:
    return (
        f"name: {name}\n"
        f"description: {description!r}\n"
        "on:\n  - repos: [acme/api]\n"
        'steps:\n  - name: fix\n    run: "true"\n'
        f"changeset:\n  title: {title!r}\n"
    )


def apply(ctx: AppContext, text: str) -> Campaign:
    return campaigns.apply_spec(ctx, text, principal=OPERATOR).campaign


def publish(
    ctx: AppContext, campaign_id: int, repos: Sequence[str], *, now: datetime
) -> dict[str, ChangesetId]:
    with ctx.db.transaction() as conn:
        ids = changeset_store.upsert_for_publish(
            conn,
            campaign_id,
            [
                changeset_store.NewChangeset(
                    repo=r,
                    org=r.split("/")[0],
                    branch="shoal/bump",
                    installation_id=1,
                    repo_github_id=None,
                    desired=DESIRED,
                )
                for r in repos
            ],
            now=now,
        )
    return dict(zip(repos, ids, strict=True))


def opened(
    ctx: AppContext, changeset_id: ChangesetId, number: int, *, now: datetime, **fields: Any
) -> None:
    with ctx.db.transaction() as conn:
        observed = Observed(pr_number=number, pr_state="open", **fields)
        changeset_store.record_observed(conn, changeset_id, observed, now=now)
        changeset_store.set_reconciler_state(conn, changeset_id, ReconcilerState.COMPLETED, now=now)


def observe(ctx: AppContext, changeset_id: ChangesetId, *, now: datetime, **fields: Any) -> None:
    with ctx.db.transaction() as conn:
        current = changeset_store.get_changeset(conn, changeset_id)
        observed = dataclasses.replace(current.observed, **fields)
        changeset_store.record_observation(conn, changeset_id, observed, now=now)


def fail(
    ctx: AppContext, changeset_id: ChangesetId, *, now: datetime, message: str = "refused"
) -> None:
    with ctx.db.transaction() as conn:
        changeset_store.set_reconciler_state(
            conn,
            changeset_id,
            ReconcilerState.FAILED,
            now=now,
            failure_reason="github_forbidden",
            failure_message=message,
        )
