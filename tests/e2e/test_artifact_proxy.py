"""The artifact proxy with the real API server, PostgreSQL and SeaweedFS S3: a runner in pod
mode holds only its execution token, gets its workspace and hands back its results through
the API, and its token is good for its own execution, until it finishes or expires."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from shoal.domain.clock import FrozenClock
from shoal.domain.errors import InvalidInputError
from shoal.domain.executions import ExecutionState
from shoal.domain.runs import ExecutionId
from shoal.execution import ExecutionRequest, ExecutionResult
from shoal.executors.port import ExecutionRef, StagedArtifacts
from shoal.runtime.workers import WorkerComponents
from shoal.services.artifact_proxy import (
    RESULT_FILES,
    ArtifactProxy,
    collect_results,
    result_key,
    stage_execution,
    workspace_key,
)
from shoal.services.executing import run_execution_task
from shoal.services.runs import EXECUTE_TASK, SELECT_TASK
from shoal.services.selecting import run_select_task
from shoal.store import execution_tokens as token_store
from shoal.store import executions as execution_store
from shoal.store import tasks as task_store
from tests.e2e.conftest import Stack
from tests.e2e.test_preview import SECRET, SPEC, WORLD
from tests.execution.conftest import github_tarball

# What a runner in a pod gets: its token, and nothing else of Shoal's.
POD_ENV_NAMES = {"PATH", "SHOAL_EXECUTION_TOKEN"}


def pod_env(token: str) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "SHOAL_EXECUTION_TOKEN": token}


@dataclasses.dataclass
class PodModeExecutor:
    """An executor that runs `shoal runner run --artifact-url` as a process holding only its
    execution token, the way a pod does: the worker stages and collects, the runner talks
    to the API alone."""

    work_dir: Path
    envs: list[dict[str, str]] = dataclasses.field(default_factory=list)
    staged: list[StagedArtifacts] = dataclasses.field(default_factory=list)

    def execute(
        self,
        request: ExecutionRequest,
        tarball: Path | None,
        out_dir: Path,
        *,
        ref: ExecutionRef | None = None,
    ) -> ExecutionResult:
        assert ref is not None and ref.artifacts is not None
        staged = ref.artifacts.stage(tarball)
        self.staged.append(staged)
        with tempfile.TemporaryDirectory(prefix="pod-", dir=self.work_dir) as pod:
            pod_dir = Path(pod)
            pod_dir.chmod(0o711)
            request_file = pod_dir / "request.json"
            request_file.write_text(request.to_json())
            request_file.chmod(0o600)
            env = pod_env(staged.token)
            self.envs.append(env)
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "shoal",
                    "runner",
                    "run",
                    "--artifact-url",
                    staged.url,
                    "--request",
                    str(request_file),
                    "--out",
                    str(pod_dir / "out"),
                    "--work-root",
                    str(pod_dir),
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0, done.stderr
        return ref.artifacts.collect(out_dir)


def select_and_execute(stack: Stack, executor: PodModeExecutor) -> int:
    name = stack.apply(SPEC)["campaign"]["name"]
    run_id = int(stack.start_preview(name)["id"])
    ctx = stack.api.ctx
    parts = WorkerComponents(ctx)
    try:
        with ctx.db.transaction() as conn:
            (select,) = task_store.list_tasks(conn, task_store.TaskFilter(kinds=(SELECT_TASK,)))
        run_select_task(parts.selection, select)
        with ctx.db.transaction() as conn:
            tasks = task_store.list_tasks(conn, task_store.TaskFilter(kinds=(EXECUTE_TASK,)))
        for task in tasks:
            run_execution_task(dataclasses.replace(parts.execution, executor=executor), task)
    finally:
        parts.close()
    return run_id


def test_a_preview_runs_through_the_proxy_with_only_the_execution_token(
    make_stack: Callable[..., Stack], work_dir: Path
) -> None:
    stack = make_stack(WORLD, secrets={"API_TOKEN": SECRET}, s3=True, worker=False)
    executor = PodModeExecutor(work_dir)
    run_id = select_and_execute(stack, executor)

    run = stack.wait(run_id, timeout_s=30)
    assert run["state"] == "done"
    assert all(set(env) == POD_ENV_NAMES for env in executor.envs)
    assert len(executor.envs) == 3  # acme/api, acme/web, acme/broken
    diff = stack.get(f"/runs/{run_id}/executions/acme/api/patch")
    assert "+      - uses: actions/checkout@v4" in diff
    log = stack.get(f"/runs/{run_id}/executions/acme/api/log")
    assert "token=***" in log and SECRET not in log
    broken = stack.get(f"/runs/{run_id}/executions/acme/broken")
    assert (broken["state"], broken["reason"]) == ("failed", "step_exit_code")

    # Finished: every token is revoked and what was staged for the runners is gone.
    for staged in executor.staged:
        with httpx.Client(headers={"Authorization": f"Bearer {staged.token}"}) as http:
            refused = http.get(f"{staged.url}/workspace")
        assert refused.status_code == 401
        assert "revoked" in refused.json()["error"]["message"]
    blobs, db = stack.api.ctx.blobs, stack.api.ctx.db
    for staged in executor.staged:
        execution_id = int(staged.url.rsplit("/", 1)[1])
        with db.transaction() as conn:
            (token,) = token_store.list_execution_tokens(conn, execution_id)
        assert token.revoked_at is not None and token.results_at is not None
        keys = [workspace_key(execution_id)]
        keys += [result_key(execution_id, token.id, name) for name in RESULT_FILES]
        assert not any(blobs.exists(key) for key in keys)


def test_the_runner_environment_reaches_neither_s3_nor_github(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(WORLD, s3=True, worker=False)
    probe = f"""
import sys, boto3, botocore.exceptions, httpx
s3 = boto3.client("s3", endpoint_url={stack.settings.s3_endpoint_url!r}, region_name="us-east-1")
try:
    s3.list_objects_v2(Bucket={stack.settings.s3_bucket!r})
    print("s3: listed")
except botocore.exceptions.NoCredentialsError:
    print("s3: no credentials")
answer = httpx.get({stack.sim.rest_url!r} + "/installation/repositories")
print("github:", answer.status_code)
"""
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env=pod_env("shoalx_not-a-real-token") | {"HOME": "/nonexistent"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.splitlines() == ["s3: no credentials", "github: 401"]


@pytest.fixture
def proxied(make_stack: Callable[..., Stack], tmp_path: Path) -> dict[str, Any]:
    """Two queued executions (acme/api, acme/web), each staged with a token of its own."""
    stack = make_stack(WORLD, secrets={"API_TOKEN": SECRET}, s3=True, worker=False)
    name = stack.apply(SPEC)["campaign"]["name"]
    stack.start_preview(name)
    ctx = stack.api.ctx
    parts = WorkerComponents(ctx)
    try:
        with ctx.db.transaction() as conn:
            (select,) = task_store.list_tasks(conn, task_store.TaskFilter(kinds=(SELECT_TASK,)))
        run_select_task(parts.selection, select)
    finally:
        parts.close()
    with ctx.db.transaction() as conn:
        tasks = task_store.list_tasks(conn, task_store.TaskFilter(kinds=(EXECUTE_TASK,)))
    a, b = (int(task.payload["execution_id"]) for task in tasks[:2])
    proxy = ArtifactProxy(db=ctx.db, blobs=ctx.blobs, clock=ctx.clock, settings=ctx.settings)
    tarball = github_tarball(tmp_path / "repo", {"README.md": b"hello\n"})
    return {
        "stack": stack,
        "proxy": proxy,
        "a": a,
        "b": b,
        "tarball": tarball,
        "staged_a": stage_execution(proxy, a, tarball),
        "staged_b": stage_execution(proxy, b, None),
        "out": tmp_path / "results",
    }


def client(token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(headers=headers, timeout=30)


def error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["message"]


def test_a_token_fetches_and_uploads_for_its_own_execution_only(proxied: dict[str, Any]) -> None:
    a, b = proxied["staged_a"], proxied["staged_b"]
    with client(a.token) as http:
        fetched = http.get(f"{a.url}/workspace")
        assert fetched.status_code == 200
        assert fetched.content == proxied["tarball"].read_bytes()
        assert error(http.get(f"{b.url}/workspace")) == (
            403,
            f"this execution token is for execution {proxied['a']}, not {proxied['b']}",
        )
        assert error(http.put(f"{b.url}/results/log", content=b"x\n"))[0] == 403
    with client(b.token) as http:
        assert http.get(f"{b.url}/workspace").status_code == 204  # an empty repository
    with client(None) as http:
        assert error(http.get(f"{a.url}/workspace"))[0] == 401
        assert error(http.put(f"{a.url}/results/log", content=b"x\n"))[0] == 401
    # An API token, even an admin's, is not an execution token.
    with client(proxied["stack"].api.tokens[next(iter(proxied["stack"].api.tokens))]) as http:
        assert error(http.get(f"{a.url}/workspace")) == (401, "unknown execution token")


def result_json(**fields: Any) -> bytes:
    base: dict[str, Any] = {
        "state": "no_change",
        "reason": None,
        "message": "no changes",
        "steps": [],
        "log_path": "log.txt",
        "patch_path": None,
        "patch_sha256": None,
        "patch_bytes": 0,
        "files": [],
    }
    return json.dumps(base | fields).encode()


def test_uploads_are_checked_and_recorded_once(proxied: dict[str, Any]) -> None:
    a = proxied["staged_a"]
    patch = (
        b"diff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n"
        b"@@ -1 +1 @@\n-hello\n+hi\n"
    )
    with client(a.token) as http:
        put = lambda name, body: http.put(f"{a.url}/results/{name}", content=body)  # noqa: E731
        assert error(put("result", result_json()))[0] == 422  # the log comes first
        assert "upload the log before result.json" in error(put("result", result_json()))[1]
        assert error(put("patch", b"rm -rf /\n"))[0] == 422
        # A log holds what steps printed, any bytes: the API escapes it when it shows it.
        assert put("log", b"\x00\x1b[2J\xff").status_code == 204
        too_big = b"x" * (proxied["proxy"].limit("log") + 1)
        assert put("log", too_big).status_code == 413
        assert error(put("secrets", b"x"))[0] == 422
        assert put("log", b"==> step bump\nno changes\n").status_code == 204
        assert put("patch", patch).status_code == 204
        wrong = result_json(
            state="patch",
            message="1 file changed",
            patch_path="patch.diff",
            patch_sha256="0" * 64,
            patch_bytes=len(patch),
        )
        assert "not the one result.json describes" in error(put("result", wrong))[1]
        escaping = result_json(log_path="../../etc/passwd")
        assert error(put("result", escaping))[0] == 422
        good = result_json(
            state="patch",
            message="1 file changed, +1 -1",
            patch_path="patch.diff",
            patch_sha256=hashlib.sha256(patch).hexdigest(),
            patch_bytes=len(patch),
            files=[
                {
                    "path": "README.md",
                    "old_path": None,
                    "status": "modified",
                    "added": 1,
                    "deleted": 1,
                    "binary": False,
                    "size": 3,
                }
            ],
        )
        assert put("result", good).status_code == 204
        # Recorded once: nothing more is taken with this token.
        assert error(put("result", good)) == (
            409,
            f"the results of execution {proxied['a']} are already recorded",
        )
        assert error(put("log", b"again\n"))[0] == 409

    result = collect_results(proxied["proxy"], proxied["a"], proxied["out"])
    assert result.state is ExecutionState.PATCH
    assert result.patch_path is not None and result.patch_path.read_bytes() == patch
    assert result.log_path.read_text() == "==> step bump\nno changes\n"


def test_a_token_stops_working_when_its_execution_finishes_and_when_it_expires(
    proxied: dict[str, Any],
) -> None:
    proxy: ArtifactProxy = proxied["proxy"]
    a, b = proxied["staged_a"], proxied["staged_b"]
    # Finished (the result stored) while the token is still live: uploads are refused.
    with proxy.db.transaction() as conn:
        execution_store.record_finished(
            conn,
            ExecutionId(proxied["a"]),
            execution_store.FinishedExecution(
                state=ExecutionState.NO_CHANGE,
                reason=None,
                message="no changes",
                patch_key=None,
                patch_sha256=None,
                patch_bytes=0,
                log_key=None,
                log_tail="",
                steps=[],
            ),
            now=datetime.now(UTC),
        )
    with client(a.token) as http:
        assert error(http.put(f"{a.url}/results/log", content=b"late\n")) == (
            409,
            f"execution {proxied['a']} has finished (no_change): it takes no more uploads",
        )
    # Revoked on completion.
    with proxy.db.transaction() as conn:
        token_store.revoke_execution_tokens(conn, proxied["a"], now=datetime.now(UTC))
    with client(a.token) as http:
        assert error(http.get(f"{a.url}/workspace"))[0] == 401
    # A new attempt of the same execution revokes the token of the one before, and what that
    # runner uploaded is not taken for the new attempt's result.
    with client(b.token) as http:
        assert http.put(f"{b.url}/results/log", content=b"old attempt\n").status_code == 204
        assert http.put(f"{b.url}/results/result", content=result_json()).status_code == 204
    assert collect_results(proxy, proxied["b"], proxied["out"] / "b1").message == "no changes"
    again = stage_execution(proxy, proxied["b"], None)
    with pytest.raises(InvalidInputError, match="uploaded no complete result"):
        collect_results(proxy, proxied["b"], proxied["out"] / "b2")
    with client(b.token) as http:
        assert "revoked" in error(http.get(f"{b.url}/workspace"))[1]
    with client(again.token) as http:
        assert http.get(f"{again.url}/workspace").status_code == 204
    # Expired: a token minted two hours ago with the default lifetime (an hour's steps,
    # two minutes of diff, ten minutes' margin).
    past = FrozenClock(datetime.now(UTC) - timedelta(hours=2))
    stale = stage_execution(dataclasses.replace(proxy, clock=past), proxied["b"], None)
    with client(stale.token) as http:
        status, message = error(http.get(f"{stale.url}/workspace"))
    assert status == 401 and message.startswith("this execution token expired at ")


def runner(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shoal", "runner", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_runner_fetch_and_upload_move_an_execution_with_the_token_alone(
    proxied: dict[str, Any], work_dir: Path
) -> None:
    a = proxied["staged_a"]
    pod = work_dir / "pod"
    pod.mkdir()
    pod.chmod(0o711)
    token_file = pod / "token"
    token_file.write_text(a.token + "\n")
    only_path = {"PATH": os.environ["PATH"]}

    fetched = runner(
        "fetch",
        "--artifact-url",
        a.url,
        "--out",
        str(pod / "base.tar.gz"),
        "--token-file",
        str(token_file),
        env=only_path,
    )
    assert fetched.returncode == 0, fetched.stderr
    assert (pod / "base.tar.gz").read_bytes() == proxied["tarball"].read_bytes()

    request = ExecutionRequest.from_json(
        json.dumps(
            {
                "steps": [
                    {
                        "name": "edit",
                        "run": "echo hi > README.md\n",
                        "env": {},
                        "secrets": [],
                        "timeout_s": 30,
                        "condition": None,
                        "image": None,
                    }
                ],
                "context": {},
                "secrets": {},
            }
        )
    )
    request_file = pod / "request.json"
    request_file.write_text(request.to_json())
    request_file.chmod(0o600)
    ran = runner(
        "run",
        "--request",
        str(request_file),
        "--workspace-tarball",
        str(pod / "base.tar.gz"),
        "--out",
        str(pod / "out"),
        "--work-root",
        str(pod),
        env=only_path,
    )
    assert ran.returncode == 0, ran.stderr

    # Without a token the runner says where it looks for one, and uploads nothing.
    missing = runner(
        "upload", "--artifact-url", a.url, "--results", str(pod / "out"), env=only_path
    )
    assert missing.returncode == 2
    assert "no execution token: set SHOAL_EXECUTION_TOKEN or pass --token-file" in missing.stderr
    # Another execution's URL: refused by the proxy (exit 4, its message).
    foreign = runner(
        "upload",
        "--artifact-url",
        proxied["staged_b"].url,
        "--results",
        str(pod / "out"),
        "--token-file",
        str(token_file),
        env=only_path,
    )
    assert foreign.returncode == 4
    assert "answered 403: this execution token is for execution" in " ".join(foreign.stderr.split())

    uploaded = runner(
        "upload",
        "--artifact-url",
        a.url,
        "--results",
        str(pod / "out"),
        "--token-file",
        str(token_file),
        env=only_path,
    )
    assert uploaded.returncode == 0, uploaded.stderr
    result = collect_results(proxied["proxy"], proxied["a"], proxied["out"])
    assert result.state is ExecutionState.PATCH
    assert [f.path for f in result.files] == ["README.md"]
    assert result.patch_path is not None and b"+hi" in result.patch_path.read_bytes()


IMAGED_SPEC = """\
name: imaged
on:
  - repos: [acme/api]
steps:
  - name: fmt
    image: alpine:3.20
    run: echo formatted > fmt.txt
changeset:
  title: fmt
"""


def test_a_spec_applied_for_another_executor_fails_without_running_its_steps(
    make_stack: Callable[..., Stack],
) -> None:
    # Applied while the server ran podman, which runs the image; executed by a worker that
    # runs the local executor, which cannot.
    stack = make_stack(WORLD, worker=False, executor="podman")
    name = stack.apply(IMAGED_SPEC)["campaign"]["name"]
    run_id = int(stack.start_preview(name)["id"])
    ctx = dataclasses.replace(
        stack.api.ctx, settings=stack.api.ctx.settings.model_copy(update={"executor": "local"})
    )
    parts = WorkerComponents(ctx)
    try:
        with ctx.db.transaction() as conn:
            (select,) = task_store.list_tasks(conn, task_store.TaskFilter(kinds=(SELECT_TASK,)))
        run_select_task(parts.selection, select)
        with ctx.db.transaction() as conn:
            (task,) = task_store.list_tasks(conn, task_store.TaskFilter(kinds=(EXECUTE_TASK,)))
        run_execution_task(parts.execution, task)
    finally:
        parts.close()
    execution = stack.get(f"/runs/{run_id}/executions/acme/api")
    assert (execution["state"], execution["reason"]) == ("failed", "sandbox_error")
    assert execution["message"].startswith(
        "step 'fmt' names the image 'alpine:3.20', but this Shoal runs steps with the local "
        "executor"
    )
    assert execution["steps"] == []
