"""The whole stack for end-to-end tests: the GitHub simulator over HTTP, Shoal's API server and
a worker (real PostgreSQL, Redis, bubblewrap, git), with filesystem or S3 object storage."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from shoal.config import Settings
from shoal.domain.auth import Principal, Role
from shoal.runtime.workers import start_worker_thread
from shoal.services.secrets import grant_secret
from tests.s3server import S3Server
from tests.servers import RunningApi, api_settings, running_api
from tests.sim.conftest import RunningSim, app_keys, make_sim, octokit_schemas

__all__ = ["Stack", "app_keys", "make_sim", "make_stack", "octokit_schemas"]

FINAL = {"done", "failed", "cancelled"}


@dataclass
class Stack:
    sim: RunningSim
    api: RunningApi
    settings: Settings
    start_worker: Callable[[], None]

    def client(self) -> httpx.Client:
        return self.api.client()

    def apply(self, spec: str) -> dict[str, Any]:
        with self.client() as http:
            response = http.post("/campaigns/apply", json={"spec": spec})
        assert response.status_code == 200, response.text
        return dict(response.json())

    def start_preview(self, campaign: str) -> dict[str, Any]:
        with self.client() as http:
            response = http.post(f"/campaigns/{campaign}/runs", json={"kind": "preview"})
        assert response.status_code == 202, response.text
        return dict(response.json())

    def wait(self, run_id: int, *, timeout_s: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        with self.client() as http:
            while True:
                run = http.get(f"/runs/{run_id}").json()
                if run["state"] in FINAL:
                    return dict(run)
                if time.monotonic() > deadline:
                    raise AssertionError(f"run {run_id} did not finish: {run}")
                time.sleep(0.2)

    def preview(self, spec: str, *, timeout_s: float = 120.0) -> dict[str, Any]:
        name = self.apply(spec)["campaign"]["name"]
        return self.wait(self.start_preview(name)["id"], timeout_s=timeout_s)

    def get(self, path: str, /, **params: Any) -> Any:
        with self.client() as http:
            response = http.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json() if "json" in response.headers["content-type"] else response.text

    def executions(self, run_id: int, **params: Any) -> dict[str, dict[str, Any]]:
        found = self.get(f"/runs/{run_id}/executions", limit=1000, **params)
        return {e["repo"]: e for e in found}

    def targets(self, run_id: int) -> dict[str, dict[str, Any]]:
        return {t["repo"]: t for t in self.get(f"/runs/{run_id}/targets", limit=1000)}

    def mutations(self) -> list[dict[str, Any]]:
        """What Shoal asked GitHub to change (the test's own scenario changes left out)."""
        return [e for e in self.sim.admin.ledger() if e["actor"]["kind"] != "admin"]

    def worker_env(self, **settings: object) -> dict[str, str]:
        """The environment of a `shoal worker` process joining this stack (its database, Redis,
        data and work directories, GitHub App, task polling), with `settings` on top."""
        s = self.settings
        app = self.sim.app()
        assert s.database_url is not None and s.redis_url is not None
        return {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/root"),
            "SHOAL_DATABASE_URL": s.database_url.get_secret_value(),
            "SHOAL_REDIS_URL": s.redis_url.get_secret_value(),
            "SHOAL_DATA_DIR": str(s.data_dir),
            "SHOAL_WORK_DIR": str(s.work_dir),
            "SHOAL_GITHUB_API_URL": s.github_api_url,
            "SHOAL_GITHUB_APP_ID": str(app["id"]),
            "SHOAL_GITHUB_PRIVATE_KEY": app["private_key_pem"],
            "SHOAL_TASK_POLL_S": str(s.task_poll_s),
            "SHOAL_LOG_FORMAT": "json",
            # The key this stack's audit events are signed with (tests/conftest.py sets it).
            "SHOAL_AUDIT_KEY": os.environ["SHOAL_AUDIT_KEY"],
            # And the keys its secrets are sealed with.
            "SHOAL_ENCRYPTION_KEYS": os.environ["SHOAL_ENCRYPTION_KEYS"],
        } | {f"SHOAL_{name.upper()}": str(value) for name, value in settings.items()}


@pytest.fixture
def work_dir() -> Iterator[Path]:
    # Sandboxed steps (uid 65534) must traverse the workspace's parents: pytest's tmp_path
    # sits under a private directory, so workspaces go under /tmp.
    path = Path(tempfile.mkdtemp(prefix="shoal-e2e-"))
    path.chmod(0o711)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def make_stack(
    make_sim: Callable[..., RunningSim],
    db_url: str,
    redis_url: str,
    tmp_path: Path,
    work_dir: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Callable[..., Stack]]:
    stops: list[tuple[threading.Event, threading.Thread]] = []
    exits: list[Any] = []

    def start(
        world: dict[str, Any],
        *,
        secrets: dict[str, str] | None = None,
        s3: bool = False,
        worker: bool = True,
        **overrides: Any,
    ) -> Stack:
        if s3:
            server: S3Server = request.getfixturevalue("s3_server")
            bucket = f"shoal-e2e-{uuid.uuid4().hex[:10]}"
            server.store(bucket).ensure_bucket()
            overrides |= {
                "object_store": "s3",
                "s3_endpoint_url": server.endpoint_url,
                "s3_region": server.region,
                "s3_bucket": bucket,
                "s3_access_key_id": SecretStr(server.access_key),
                "s3_secret_access_key": SecretStr(server.secret_key),
            }
        sim = make_sim(world)
        app = sim.app()
        secrets_dir = tmp_path / "secrets"
        secrets_dir.mkdir(exist_ok=True)
        for name, value in (secrets or {}).items():
            (secrets_dir / name).write_text(value)
        settings = api_settings(
            db_url,
            redis_url,
            data_dir=tmp_path / "data",
            work_dir=work_dir,
            secrets_dir=secrets_dir,
            github_api_url=sim.rest_url,
            github_app_id=app["id"],
            github_private_key=SecretStr(app["private_key_pem"]),
            task_poll_s=0.1,
            **overrides,
        )
        cm = running_api(settings)
        api = cm.__enter__()
        exits.append(cm)
        # Specs may name only granted secrets: these are granted to every org of the world.
        admin = Principal(name="test-admin", role=Role.ADMIN)
        for name in secrets or {}:
            for org in world.get("orgs", []):
                grant_secret(api.ctx, admin, name, org=org["login"])

        def start_worker() -> None:
            stop = threading.Event()
            stops.append((stop, start_worker_thread(api.ctx, stop)))

        if worker:
            start_worker()
        return Stack(sim=sim, api=api, settings=settings, start_worker=start_worker)

    yield start
    for stop, thread in stops:
        stop.set()
        thread.join(timeout=30)
    for cm in reversed(exits):
        cm.__exit__(None, None, None)
