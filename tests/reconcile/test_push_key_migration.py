"""Upgrading to push keys without the spec hash (migration 0012) rewrites what each changeset
recorded of its last push, so that no open PR is pushed again for the upgrade alone, and a
push still owed for a new Patch stays owed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from shoal.domain.changesets import Desired, Observed
from shoal.reconcile.plan import Operation, plan
from shoal.store import Database
from shoal.store import changesets as changeset_store
from shoal.store.migrate import upgrade
from shoal.store.tables import campaigns, changesets
from tests.conftest import _admin_execute, _db_url
from tests.reconcile.test_plan import DESIRED

OLD_SPEC = "c" * 64
NEW_SPEC = "e" * 64


@pytest.fixture
def at_0011() -> Iterator[Database]:
    name = f"shoal_t_m12_{uuid.uuid4().hex[:10]}"
    _admin_execute(f"CREATE DATABASE {name}")
    db = Database(_db_url(name), pool_size=2)
    try:
        upgrade(db, "0011")
        yield db
    finally:
        db.dispose()
        _admin_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _old_key(desired: Desired, spec_hash: str) -> str:
    return f"{desired.base_sha}:{desired.patch_sha256}:{spec_hash}"


def test_recorded_push_keys_take_the_new_shape(at_0011: Database) -> None:
    # Published at spec version 2 (a title change), pushed at version 1: the old key differs
    # from the old desired key, which pushed again. The new one does not.
    api = Desired.from_json({**DESIRED.to_json(), "spec_hash": NEW_SPEC, "commit_mode": "api"})
    older = {k: v for k, v in DESIRED.to_json().items() if k != "commit_mode"}  # before modes
    new_patch = Desired.from_json({**DESIRED.to_json(), "patch_sha256": "f" * 64})
    rows = {
        "template-only": (DESIRED, _old_key(DESIRED, OLD_SPEC)),
        "api-mode": (api, _old_key(api, OLD_SPEC)),
        "no-mode-field": (Desired.from_json(older), _old_key(DESIRED, OLD_SPEC)),
        "new-patch-owed": (new_patch, _old_key(DESIRED, OLD_SPEC)),
        "never-pushed": (DESIRED, None),
    }
    with at_0011.transaction() as conn:
        campaign = conn.execute(
            sa.insert(campaigns).values(name="c", created_by="t").returning(campaigns.c.id)
        ).scalar_one()
        ids = {}
        for repo, (desired, key) in rows.items():
            stored = desired.to_json()
            if repo == "no-mode-field":
                stored.pop("commit_mode")
            observed = Observed(branch_sha="d" * 40 if key else None, push_key=key)
            ids[repo] = conn.execute(
                sa.insert(changesets)
                .values(
                    campaign_id=campaign,
                    repo=f"acme/{repo}",
                    org="acme",
                    branch="b",
                    publish=True,
                    desired=stored,
                    observed=observed.to_json(),
                    reconciler_state="completed",
                )
                .returning(changesets.c.id)
            ).scalar_one()

    upgrade(at_0011)

    with at_0011.transaction() as conn:
        found = {repo: changeset_store.get_changeset(conn, i) for repo, i in ids.items()}
    keys = {repo: c.observed.push_key for repo, c in found.items()}
    assert keys == {
        "template-only": DESIRED.push_key,
        "api-mode": api.push_key,
        "no-mode-field": DESIRED.push_key,
        "new-patch-owed": DESIRED.push_key,
        "never-pushed": None,
    }
    assert api.push_key.endswith(":api") and DESIRED.push_key.endswith(":git")
    for repo in ("template-only", "api-mode", "no-mode-field"):
        c = found[repo]
        assert Operation.PUSH not in plan(c.desired, c.observed).operations, repo
    owed = found["new-patch-owed"]
    assert Operation.PUSH in plan(owed.desired, owed.observed).operations
