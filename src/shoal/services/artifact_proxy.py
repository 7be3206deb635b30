"""The artifact proxy: a runner elsewhere gets its workspace and hands back its results
through the API, holding nothing but a short-lived execution token.

Pods and step containers hold no object-storage and no GitHub credentials (REQ-010, NFR-004).
The worker stages the base tarball in object storage under the execution's key and mints a
token (`stage_execution`); the runner, with that token alone, `GET`s the workspace and `PUT`s
`log`, `patch` and then `result` (result.json, the commit point) through the API, which checks
each upload (size, content) and stores it under the same key; the worker then reads them back
(`collect_results`) into the `ExecutionResult` the executing service expects.

A token is scoped to one execution, has one purpose (`runner`), expires
(`execution_token_ttl_s`), is revoked when the execution finishes and when a new attempt of
the same execution stages again, and is kept only as its sha256. Its results are recorded
once: after result.json is accepted, nothing more is taken with it.
"""

from __future__ import annotations

import hashlib
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from shoal.blobs import BlobNotFoundError, ObjectStore
from shoal.config import Settings
from shoal.domain.clock import Clock
from shoal.domain.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    PermissionDeniedError,
)
from shoal.domain.executions import ExecutionState
from shoal.domain.runs import ExecutionId
from shoal.execution.results import ExecutionResult
from shoal.execution.runner import LOG_NAME, PATCH_NAME
from shoal.executors.port import StagedArtifacts
from shoal.services.tokens import hash_token
from shoal.store import Database
from shoal.store import execution_tokens as token_store
from shoal.store import executions as execution_store

__all__ = [
    "RESULT_FILES",
    "TOKEN_PREFIX",
    "ArtifactProxy",
    "ProxyArtifacts",
    "accept_upload",
    "authorize",
    "collect_results",
    "discard_staged",
    "execution_url",
    "open_workspace",
    "result_key",
    "stage_execution",
    "workspace_key",
]

TOKEN_PREFIX = "shoalx_"  # noqa: S105 - a public prefix, distinct from API tokens' shoal_
PURPOSE = "runner"
RESULT_NAME = "result.json"
# What a runner uploads, by the name in the URL: the file it is in the runner's --out dir.
RESULT_FILES = {"log": LOG_NAME, "patch": PATCH_NAME, "result": RESULT_NAME}
_RESULT_JSON_MAX_BYTES = 4 << 20  # the step reports and the DiffSummary, as JSON


def workspace_key(execution_id: int) -> str:
    return f"executions/{execution_id}/workspace.tar.gz"


def result_key(execution_id: int, token_id: int, name: str) -> str:
    """Per token: a runner left over from an earlier attempt never writes where the current
    attempt's results are read."""
    return f"executions/{execution_id}/results/{token_id}/{RESULT_FILES[name]}"


def execution_url(settings: Settings, execution_id: int) -> str:
    return f"{settings.api_url.rstrip('/')}/api/v1/executions/{execution_id}"


@dataclass(frozen=True)
class ArtifactProxy:
    """What both sides of the proxy use: the database, the object store, the clock, limits."""

    db: Database
    blobs: ObjectStore
    clock: Clock
    settings: Settings

    def limit(self, name: str) -> int:
        if name == "patch":
            return self.settings.max_patch_bytes
        if name == "log":
            # The runner's log is capped at this; the worker appends its own lines later.
            return self.settings.max_execution_log_bytes
        return _RESULT_JSON_MAX_BYTES


# --- the worker's side -------------------------------------------------------------------


def stage_execution(
    proxy: ArtifactProxy, execution_id: int, tarball: Path | None
) -> StagedArtifacts:
    """Put the workspace where the runner fetches it and mint the execution's token.

    Idempotent per attempt: an earlier attempt's token is revoked, and results are kept per
    token, so a runner left over from it can neither finish nor leave results for this one.
    """
    now = proxy.clock.now()
    with proxy.db.transaction() as conn:
        token_store.revoke_execution_tokens(conn, execution_id, now=now)
    if tarball is None:
        proxy.blobs.delete(workspace_key(execution_id))
    else:
        proxy.blobs.put_file(workspace_key(execution_id), tarball)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with proxy.db.transaction() as conn:
        token_store.insert_execution_token(
            conn,
            execution_id=execution_id,
            token_hash=hash_token(token),
            purpose=PURPOSE,
            now=now,
            expires_at=now + timedelta(seconds=proxy.settings.execution_token_lifetime_s),
        )
    return StagedArtifacts(url=execution_url(proxy.settings, execution_id), token=token)


def collect_results(proxy: ArtifactProxy, execution_id: int, out_dir: Path) -> ExecutionResult:
    """The result the runner of the current attempt uploaded (its token live, its result.json
    recorded), with its log and patch written into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with proxy.db.transaction() as conn:
        tokens = token_store.list_execution_tokens(conn, execution_id)
    done = [t for t in tokens if t.revoked_at is None and t.results_at is not None]
    if not done:
        raise InvalidInputError(
            f"the runner of execution {execution_id} uploaded no complete result"
        )
    token_id = done[-1].id
    text = proxy.blobs.get_bytes(
        result_key(execution_id, token_id, "result"), max_bytes=_RESULT_JSON_MAX_BYTES
    )
    proxy.blobs.download(result_key(execution_id, token_id, "log"), out_dir / LOG_NAME)
    result = ExecutionResult.from_json(text, out_dir)
    if result.patch_path is not None:
        proxy.blobs.download(result_key(execution_id, token_id, "patch"), result.patch_path)
        _check_patch(result, result.patch_path.read_bytes())
    return result


def discard_staged(proxy: ArtifactProxy, execution_id: int) -> None:
    """Remove what was staged for and uploaded by the execution's runners (once it is done:
    the worker has stored the results where they belong)."""
    with proxy.db.transaction() as conn:
        tokens = token_store.list_execution_tokens(conn, execution_id)
    keys = [workspace_key(execution_id)]
    keys += [result_key(execution_id, t.id, name) for t in tokens for name in RESULT_FILES]
    for key in keys:
        proxy.blobs.delete(key)


@dataclass(frozen=True)
class ProxyArtifacts:
    """`shoal.executors.port.ArtifactExchange` for one execution, through this proxy."""

    proxy: ArtifactProxy
    execution_id: int

    def stage(self, tarball: Path | None) -> StagedArtifacts:
        return stage_execution(self.proxy, self.execution_id, tarball)

    def collect(self, out_dir: Path) -> ExecutionResult:
        return collect_results(self.proxy, self.execution_id, out_dir)


# --- the API's side ----------------------------------------------------------------------


def authorize(
    proxy: ArtifactProxy, token: str | None, execution_id: int
) -> token_store.ExecutionToken:
    """The token's row, if it may act for `execution_id` now; else why not.

    401: no token, an unknown, revoked or expired one. 403: a token of another execution.
    409: the execution has finished (its results are recorded; nothing more is taken).
    """
    if not token:
        raise AuthenticationError(
            "missing execution token: send 'Authorization: Bearer <execution token>'"
        )
    with proxy.db.transaction() as conn:
        found = token_store.find_execution_token(conn, hash_token(token))
        if found is None or found.purpose != PURPOSE:
            raise AuthenticationError("unknown execution token")
        if found.revoked_at is not None:
            raise AuthenticationError(
                "this execution token was revoked: its execution finished or was started again"
            )
        if found.expires_at <= proxy.clock.now():
            raise AuthenticationError(
                f"this execution token expired at {found.expires_at.isoformat()}"
            )
        if found.execution_id != execution_id:
            raise PermissionDeniedError(
                f"this execution token is for execution {found.execution_id}, not {execution_id}"
            )
        execution = execution_store.get_execution(conn, ExecutionId(execution_id))
    if execution.state.finished:
        raise ConflictError(
            f"execution {execution_id} has finished ({execution.state.value}): "
            "it takes no more uploads"
        )
    return found


def open_workspace(
    proxy: ArtifactProxy, token: str | None, execution_id: int
) -> Iterator[bytes] | None:
    """The staged workspace's bytes, or None for an empty repository (nothing staged)."""
    authorize(proxy, token, execution_id)
    key = workspace_key(execution_id)
    if not proxy.blobs.exists(key):
        return None
    return proxy.blobs.iter_chunks(key)


def accept_upload(
    proxy: ArtifactProxy, token: str | None, execution_id: int, name: str, body: bytes
) -> None:
    """Check one uploaded result file and store it; `result` last, recorded once."""
    if name not in RESULT_FILES:
        raise InvalidInputError(f"unknown result {name!r}: upload one of {', '.join(RESULT_FILES)}")
    found = authorize(proxy, token, execution_id)
    if found.results_at is not None:
        raise ConflictError(f"the results of execution {execution_id} are already recorded")
    limit = proxy.limit(name)
    if len(body) > limit:
        raise InvalidInputError(
            f"the {name} is {len(body)} bytes, more than the {limit} allowed",
            details={"limit": limit},
        )
    if name == "patch":
        if body and not body.startswith(b"diff --git "):
            raise InvalidInputError("the patch is not a git diff (it must start 'diff --git ')")
    elif name == "result":
        _check_result(proxy, execution_id, found.id, body)
    proxy.blobs.put_bytes(result_key(execution_id, found.id, name), body)
    if name == "result":
        with proxy.db.transaction() as conn:
            if not token_store.mark_results(conn, found.id, now=proxy.clock.now()):
                raise ConflictError(f"the results of execution {execution_id} are already recorded")


def _check_result(proxy: ArtifactProxy, execution_id: int, token_id: int, body: bytes) -> None:
    """result.json must be a runner result naming exactly the files uploaded before it."""
    with tempfile.TemporaryDirectory(prefix="shoal-result-") as tmp:
        out_dir = Path(tmp)
        result = ExecutionResult.from_json(body, out_dir)
        if result.log_path != out_dir / LOG_NAME:
            raise InvalidInputError(f"result.json must name its log {LOG_NAME}")
        if not proxy.blobs.exists(result_key(execution_id, token_id, "log")):
            raise InvalidInputError("upload the log before result.json")
        if result.state is ExecutionState.PATCH:
            if result.patch_path != out_dir / PATCH_NAME:
                raise InvalidInputError(f"result.json must name its patch {PATCH_NAME}")
            try:
                patch = proxy.blobs.get_bytes(
                    result_key(execution_id, token_id, "patch"), max_bytes=proxy.limit("patch")
                )
            except BlobNotFoundError:
                raise InvalidInputError("upload the patch before result.json") from None
            _check_patch(result, patch)
        elif result.patch_path is not None:
            raise InvalidInputError(
                f"result.json names a patch but its state is {result.state.value}"
            )
        elif result.state not in (ExecutionState.NO_CHANGE, ExecutionState.FAILED):
            raise InvalidInputError(f"result.json has the state {result.state.value}")


def _check_patch(result: ExecutionResult, patch: bytes) -> None:
    if hashlib.sha256(patch).hexdigest() != result.patch_sha256 or len(patch) != result.patch_bytes:
        raise InvalidInputError(
            "the patch uploaded is not the one result.json describes (sha256 or size differ)"
        )
