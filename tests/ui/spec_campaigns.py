"""Campaigns with published changesets, written through the store as publishing leaves them,
for the spec editor's plan and apply tests."""

from __future__ import annotations

from dataclasses import dataclass

from shoal.domain.auth import Principal, Role
from shoal.domain.changesets import Desired, Observed, ReconcilerState
from shoal.services import campaigns
from shoal.services.context import AppContext
from shoal.store import changesets as changeset_store

__all__ = ["SPEC", "TEMPLATE_CHANGED", "published_campaign", "spec"]

SPEC = """\
name: {name}
description: Move workflows to actions/checkout@v4
on:
  - repos: [acme/svc-0, acme/svc-1, acme/svc-2, acme/svc-3]
steps:
  - name: bump
    run: sed -i 's/checkout@v3/checkout@v4/' ci.yml
changeset:
  title: "ci: bump checkout"
  body: Automated.
  labels: [dependencies, shoal]
"""

# Only what the PRs show changes: the title, and a label Shoal set that is dropped.
TEMPLATE_CHANGED = {
    'title: "ci: bump checkout"': 'title: "ci: checkout v4"',
    "labels: [dependencies, shoal]": "labels: [dependencies]",
}


def spec(name: str = "bump", *, changed: bool = False) -> str:
    text = SPEC.format(name=name)
    if changed:
        for old, new in TEMPLATE_CHANGED.items():
            text = text.replace(old, new)
    return text


@dataclass(frozen=True)
class Published:
    name: str
    # repo -> what the changeset is: two open PRs, a merged one and one not opened yet.
    open_repos: tuple[str, ...] = ("acme/svc-0", "acme/svc-1")
    merged_repo: str = "acme/svc-2"
    unopened_repo: str = "acme/svc-3"


def published_campaign(ctx: AppContext, name: str = "bump") -> Published:
    """Version 1 of `spec(name)` applied and published: svc-0 and svc-1 have open PRs with
    the spec's labels, svc-2's PR is merged, svc-3's PR is not opened yet."""
    applied = campaigns.apply_spec(ctx, spec(name), principal=Principal("test", Role.ADMIN))
    desired = Desired(
        publish=True,
        draft=False,
        base_branch="main",
        base_sha="a" * 40,
        default_branch="main",
        patch_key="patches/sha256/bb/" + "b" * 64,
        patch_sha256="b" * 64,
        title="ci: bump checkout",
        body="Automated.",
        labels=("dependencies", "shoal"),
        reviewers=(),
        team_reviewers=(),
        assignees=(),
        commit_message="ci: bump checkout",
        author_name="Shoal",
        author_email="shoal@localhost",
        campaign_name=name,
        spec_version=1,
        spec_hash=applied.spec_version.spec_hash,
        run_id=1,
        execution_id=1,
    )
    shape = Published(name)
    repos = [*shape.open_repos, shape.merged_repo, shape.unopened_repo]
    now = ctx.clock.now()
    with ctx.db.transaction() as conn:
        ids = changeset_store.upsert_for_publish(
            conn,
            applied.campaign.id,
            [
                changeset_store.NewChangeset(
                    repo=repo,
                    org="acme",
                    branch=f"shoal/{name}",
                    installation_id=1,
                    repo_github_id=None,
                    desired=desired,
                )
                for repo in repos
            ],
            now=now,
        )
        for number, (repo, changeset_id) in enumerate(zip(repos, ids, strict=True), start=1):
            if repo == shape.unopened_repo:
                continue
            observed = Observed(
                pr_number=number,
                pr_state="merged" if repo == shape.merged_repo else "open",
                labels=("dependencies", "shoal"),
                written_labels=("dependencies", "shoal"),
            )
            changeset_store.record_observed(conn, changeset_id, observed, now=now)
            changeset_store.set_reconciler_state(
                conn, changeset_id, ReconcilerState.COMPLETED, now=now
            )
    return shape
