"""The fetch and the push of a publish, one request each (`uploadpack`, `receivepack`), with
GitHub's answers turned into Shoal's errors as `git fetch` / `git push` would have them.

When an answer says Shoal's shortcut does not fit (the branch is not where Shoal thought, a
server that does not speak protocol v2), the caller falls back to the `git` command, which
asks first and decides as usual: `Unsettled` says so, with the refused push to audit.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydantic import SecretStr

from shoal.domain.errors import ShoalError
from shoal.domain.mutations import Mutation
from shoal.github.errors import GitHubUnavailableError
from shoal.github.push import (
    BranchChangedError,
    BranchProtectedError,
    ForcePushBannedError,
    GitRemoteError,
    MissingPermissionError,
    classify_push_failure,
)
from shoal.publish import receivepack, uploadpack
from shoal.publish.smarthttp import Answer, ProtocolError, post

__all__ = ["Pushed", "Remote", "Unsettled", "fetch", "push"]

# A depth-1 pack is one snapshot of the repository: as large as the workspace may be.
MAX_PACK_BYTES = 2 << 30


class Unsettled(Exception):
    """The one-request way does not fit: run the `git` command. `mutations`: what GitHub
    saw on the way (a refused push), to audit with what the command does."""

    def __init__(self, why: str, mutations: tuple[Mutation, ...] = ()) -> None:
        super().__init__(why)
        self.mutations = mutations


@dataclass(frozen=True, slots=True)
class Remote:
    """One repository over smart HTTP, as one installation."""

    repo: str  # owner/name
    url: str  # https://host/owner/name.git
    token: SecretStr

    @property
    def authorization(self) -> SecretStr:
        raw = f"x-access-token:{self.token.get_secret_value()}".encode()
        return SecretStr(f"Basic {base64.b64encode(raw).decode()}")

    def mask(self, text: str) -> str:
        secret = self.token.get_secret_value()
        forms = {secret, base64.b64encode(f"x-access-token:{secret}".encode()).decode()}
        for form in sorted(forms, key=len, reverse=True):
            if form:
                text = text.replace(form, "***")
        return text


@dataclass(frozen=True, slots=True)
class Pushed:
    previous: str | None
    mutation: Mutation


def _failed(remote: Remote, exc: Exception, operation: str) -> Exception:
    """Like a `git` command whose connection failed: what GitHub made of it is unknown.
    Past the time it was given: TimeoutError, which the caller words."""
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return TimeoutError(operation)
    said = remote.mask(f"{type(exc).__name__}: {exc}")[:300]
    return GitHubUnavailableError(f"git {operation}: the request failed ({said})")


def _refusal(remote: Remote, answer: Answer, operation: str) -> ShoalError:
    said = remote.mask(answer.text)
    return classify_push_failure(
        f"{said}\nfatal: unable to access: The requested URL returned error: {answer.status}",
        128,
        operation=operation,
    )


def fetch(remote: Remote, want: str, pack: Path, *, timeout_s: float) -> tuple[str, ...]:
    """Write the pack of `want` at depth 1 to `pack`; return the shallow commits. Raises
    TimeoutError past `timeout_s`."""
    try:
        with post(
            f"{remote.url}/git-upload-pack",
            remote.authorization,
            uploadpack.request_body(want),
            service="upload-pack",
            timeout_s=timeout_s,
            protocol=uploadpack.PROTOCOL,
        ) as answer:
            if answer.status != 200:
                raise _refusal(remote, answer, "fetch")
            with pack.open("wb") as out:
                fetched = uploadpack.read_pack(answer.reader, out.write, max_bytes=MAX_PACK_BYTES)
    except uploadpack.FetchRefusedError as exc:
        said = f"fatal: {remote.mask(str(exc))}"
        raise classify_push_failure(said, 128, operation="fetch") from None
    except ProtocolError as exc:
        raise Unsettled(f"the fetch's answer: {exc}") from None
    except (httpx.HTTPError, TimeoutError) as exc:
        raise _failed(remote, exc, "fetch") from None
    return fetched.shallow


def push(
    remote: Remote,
    branch: str,
    sha: str,
    expected: str,
    pack: bytes,
    *,
    timeout_s: float,
) -> Pushed:
    """Move `branch` from `expected` (ZERO: it does not exist) to `sha`, sending `pack`.
    Raises the typed error of a refusal, carrying the refused push, Unsettled when the
    branch is not where Shoal thought, TimeoutError past `timeout_s`."""
    ref = f"refs/heads/{branch}"

    def mutation(
        answer: Answer, error: ShoalError | None = None, **details: str | None
    ) -> Mutation:
        return Mutation.git_push(
            remote.repo,
            ok=error is None,
            status=answer.status,
            request_id=answer.request_id,
            error_code=error.code if error is not None else None,
            branch=branch,
            **details,
        )

    try:
        with post(
            f"{remote.url}/git-receive-pack",
            remote.authorization,
            receivepack.request_body(expected, sha, ref, pack),
            service="receive-pack",
            timeout_s=timeout_s,
        ) as answer:
            if answer.status != 200:
                error = _refusal(remote, answer, "push")
                if answer.status < 500:  # GitHub looked at the push and refused it
                    error.mutations = (mutation(answer, error),)
                raise error
            try:
                report = receivepack.read_report(answer.reader, ref)
            except ProtocolError as exc:
                unread = GitRemoteError(f"git push: GitHub's answer cannot be read: {exc}")
                unread.mutations = (mutation(answer, unread),)
                raise unread from None
    except (httpx.HTTPError, TimeoutError) as exc:
        raise _failed(remote, exc, "push") from None
    if report.ok and report.unpack == "ok":
        previous = None if expected == receivepack.ZERO else expected
        return Pushed(previous, mutation(answer, commit=sha, previous=previous))
    error = classify_push_failure(report.as_git_says(sha, branch), 1)
    if isinstance(error, BranchProtectedError | MissingPermissionError | ForcePushBannedError):
        error.mutations = (mutation(answer, error),)
        raise error
    # The branch is not where Shoal thought (someone created or moved it, or it already holds
    # the commit), or GitHub did not take the pack: `git push` reads the branch and decides.
    refused = mutation(answer, BranchChangedError(report.reason))
    raise Unsettled(f"the push was refused: {report.reason}", (refused,))
