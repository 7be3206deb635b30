"""A real API server with a webhook secret, signed deliveries sent to it over HTTP, the
`webhook.process` tasks they queue run in the test's thread, and changesets to deliver to."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from shoal.domain.backoff import Backoff
from shoal.domain.changesets import Changeset, ChangesetId, Desired, Observed
from shoal.domain.tasks import Outcome
from shoal.services.publishing import RECONCILE_TASK
from shoal.services.webhooks import WEBHOOK_TASK, run_webhook_task
from shoal.store import campaigns as campaign_store
from shoal.store import changesets as changeset_store
from shoal.store import tasks as task_store
from shoal.store.tables import changeset_syncs, tasks, webhook_deliveries
from tests.servers import RunningApi, api_settings, running_api
from tests.sim.conftest import octokit_schemas

__all__ = ["Hooks", "make_hooks", "octokit_schemas", "sign"]

SECRET = "webhook-test-secret"
HOOK_PATH = "/github/webhooks"
MAX_BODY = 256 << 10


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Hooks:
    api: RunningApi

    def post(
        self,
        event: str,
        payload: Any = None,
        *,
        body: bytes | None = None,
        guid: str | None = None,
        signature: str | None = "auto",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """A delivery as GitHub sends one: no API token, signed (unless told otherwise)."""
        raw = body if body is not None else json.dumps(payload).encode()
        sent = {
            "content-type": "application/json",
            "x-github-event": event,
            "x-github-delivery": guid or str(uuid.uuid4()),
            "user-agent": "GitHub-Hookshot/test",
        }
        if signature == "auto":
            sent["x-hub-signature-256"] = sign(raw)
        elif signature is not None:
            sent["x-hub-signature-256"] = signature
        sent |= headers or {}
        with self.api.client(role=None) as http:
            return http.post(HOOK_PATH, content=raw, headers=sent)

    def process(self) -> list[Outcome]:
        """Run every queued `webhook.process` task here, as a worker would."""
        ctx = self.api.ctx
        outcomes: list[Outcome] = []
        while True:
            with ctx.db.transaction() as conn:
                claimed = task_store.claim(
                    conn, worker_id="test", now=ctx.clock.now(), kinds=[WEBHOOK_TASK], limit=10
                )
            if not claimed:
                return outcomes
            for task in claimed:
                outcome = run_webhook_task(ctx, task)
                outcomes.append(outcome)
                with ctx.db.transaction() as conn:
                    task_store.complete(
                        conn,
                        task,
                        outcome,
                        now=ctx.clock.now(),
                        backoff=Backoff(1.0, 10.0, random.Random(0)),
                    )

    def deliveries(self) -> list[dict[str, Any]]:
        with self.api.ctx.db.transaction() as conn:
            rows = conn.execute(
                webhook_deliveries.select().order_by(webhook_deliveries.c.id)
            ).mappings()
            return [dict(r) for r in rows]

    def tasks(self, kind: str) -> list[dict[str, Any]]:
        with self.api.ctx.db.transaction() as conn:
            rows = conn.execute(tasks.select().where(tasks.c.kind == kind)).mappings()
            return [dict(r) for r in rows]

    def syncs_soon(self) -> dict[int, datetime]:
        """Changesets due for a sync within a minute, and when."""
        soon = self.api.ctx.clock.now() + timedelta(minutes=1)
        with self.api.ctx.db.transaction() as conn:
            rows = conn.execute(
                changeset_syncs.select().where(changeset_syncs.c.next_sync_at <= soon)
            ).mappings()
            return {int(r["changeset_id"]): r["next_sync_at"] for r in rows}

    def reconciles(self) -> set[int]:
        """Changesets with a reconcile task queued."""
        return {
            int(t["payload"]["changeset_id"])
            for t in self.tasks(RECONCILE_TASK)
            if t["state"] == "queued"
        }

    def clear_reconciles(self) -> None:
        with self.api.ctx.db.transaction() as conn:
            conn.execute(tasks.delete().where(tasks.c.kind == RECONCILE_TASK))

    def changeset(self, changeset_id: int) -> Changeset:
        with self.api.ctx.db.transaction() as conn:
            return changeset_store.get_changeset(conn, ChangesetId(changeset_id))

    def seed(
        self,
        repo: str = "acme/widgets",
        *,
        branch: str = "shoal/bump",
        base_branch: str = "main",
        installation_id: int = 11,
        repo_github_id: int | None = 1001,
        drift: str | dict[str, str] | None = None,
        **observed: Any,
    ) -> int:
        """A published changeset in `repo` with `observed` as Shoal last saw it (and the
        campaign's drift policy)."""
        ctx = self.api.ctx
        now = ctx.clock.now()
        desired = Desired(
            publish=True,
            draft=False,
            base_branch=base_branch,
            base_sha="b" * 40,
            default_branch=base_branch,
            patch_key="patches/x",
            patch_sha256="p" * 64,
            title="bump",
            body="body",
            labels=(),
            reviewers=(),
            team_reviewers=(),
            assignees=(),
            commit_message="bump",
            author_name="Shoal",
            author_email="shoal@example.com",
            campaign_name="bump",
            spec_version=1,
            spec_hash="h" * 64,
            run_id=1,
            execution_id=1,
            drift=drift,
        )
        with ctx.db.transaction() as conn:
            found = campaign_store.find_campaign_by_name(conn, "bump")
            campaign_id = (
                found.id
                if found is not None
                else campaign_store.insert_campaign(
                    conn, name="bump", description="", created_by="test", now=now
                )
            )
            assert campaign_id is not None
            new = changeset_store.NewChangeset(
                repo=repo,
                org=repo.split("/", maxsplit=1)[0],
                branch=branch,
                installation_id=installation_id,
                repo_github_id=repo_github_id,
                desired=desired,
            )
            (changeset_id,) = changeset_store.upsert_for_publish(conn, campaign_id, [new], now=now)
            state = dataclasses.replace(Observed(), **observed)
            changeset_store.record_observed(conn, changeset_id, state, now=now)
        return int(changeset_id)


@pytest.fixture
def make_hooks(db_url: str, redis_url: str, tmp_path: Path) -> Iterator[Callable[..., Hooks]]:
    exits: list[Any] = []

    def start(**overrides: Any) -> Hooks:
        defaults: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "github_webhook_secret": SecretStr(SECRET),
            "github_webhook_max_body_bytes": MAX_BODY,
        }
        settings = api_settings(db_url, redis_url, **(defaults | overrides))
        cm = running_api(settings)
        exits.append(cm)
        return Hooks(cm.__enter__())

    yield start
    for cm in reversed(exits):
        cm.__exit__(None, None, None)


@pytest.fixture
def hooks(make_hooks: Callable[..., Hooks]) -> Hooks:
    return make_hooks()
