"""What GitHub meant when `git push` or `git fetch` over smart HTTP failed, or refused a
branch update through the REST API (`git/refs`).

git reports GitHub's answers only as text: `remote:` lines (GH006 protected branches, GH003
force-push bans, GH013 rulesets), the reason after `[remote rejected]`, and curl's
`The requested URL returned error: <status>`. The REST API answers the same refusals with a
422 whose message carries the same words. This module is the only place that knows those
texts; it turns them into Shoal's error types so that callers decide on types.

The text given here must already be free of credentials (the caller masks the token).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from shoal.domain.errors import PermissionDeniedError, ShoalError
from shoal.github.errors import (
    SECONDARY_DEFAULT_WAIT_S,
    GitHubAuthError,
    GitHubConflictError,
    GitHubForbiddenError,
    GitHubNotFoundError,
    GitHubPermissionError,
    GitHubUnavailableError,
    GitHubValidationError,
    SecondaryRateLimitError,
)

__all__ = [
    "BranchChangedError",
    "BranchProtectedError",
    "ForcePushBannedError",
    "GitRemoteError",
    "MissingPermissionError",
    "NonFastForwardError",
    "PushRejectedError",
    "classify_push_failure",
    "classify_ref_refusal",
]

_OUTPUT_LINES = 6

# GitHub's explanations under a GH006/GH013 line, as the rule they name.
_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), rule)
    for pattern, rule in (
        (r"must be made through a pull request", "pull request required"),
        (r"approving reviews? (is|are) required", "approving reviews required"),
        (r"code owner review", "code owner review required"),
        (r"required status checks?", "required status checks"),
        (r"cannot force-push", "force pushes not allowed"),
        (r"cannot delete", "deletion not allowed"),
        (r"verified signatures", "signed commits required"),
        (r"merge commits", "linear history required"),
        (r"not authorized to push", "push restricted to some users"),
    )
)
_PROTECTED_REF = re.compile(r"GH0(?:06|13): [^\n]*? for (refs/\S+?)\.?\s*$", re.MULTILINE)
_REJECTED = re.compile(r"\[(?:remote )?rejected\][^(\n]*\((.*)\)\s*$", re.MULTILINE)
_HTTP_STATUS = re.compile(
    r"(?:returned error: |RPC failed; HTTP |unexpected http code )(\d{3})", re.IGNORECASE
)
_MISSING_REPO = re.compile(r"fatal: repository '[^'\n]*' not found")
_WORKFLOW = re.compile(
    r"refusing to allow an? (GitHub App|OAuth App|Personal Access Token) to create or "
    r"update workflow `([^`]*)` without `(workflows?)` (permission|scope)"
)
# curl and git's words for "the network or the server failed us": worth another try.
_TRANSIENT = (
    "could not resolve host",
    "failed to connect",
    "couldn't connect",
    "connection refused",
    "connection reset",
    "connection timed out",
    "operation timed out",
    "timed out after",
    "empty reply from server",
    "the remote end hung up unexpectedly",
    "unexpected disconnect",
    "early eof",
    "recv failure",
    "send failure",
    "ssl_read",
    "gnutls",
    "http/2 stream",
    "transfer closed with outstanding read data",
    "failed to update ref",
    "cannot lock ref",
)


class BranchProtectedError(PermissionDeniedError):
    """The branch may not be written by Shoal: GitHub's branch protection or rulesets
    refused the push, or it is the repository's default branch. `rules` names what the
    protection requires (e.g. `("pull request required",)`)."""

    code = "branch_protected"

    def __init__(
        self,
        message: str,
        *,
        ref: str | None,
        rules: tuple[str, ...],
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details={**(details or {}), "ref": ref, "rules": list(rules)})
        self.ref = ref
        self.rules = rules


class MissingPermissionError(GitHubPermissionError):
    """The credential lacks a permission the push needs: GitHub refuses workflow files
    (`.github/workflows/`) from an App without `workflows` or a token without `workflow`."""

    def __init__(self, message: str, *, permission: str, path: str | None = None) -> None:
        super().__init__(
            message,
            accepted_permissions=(f"{permission}=write",),
            details={"permission": permission, "path": path},
        )
        self.permission = permission
        self.path = path


class NonFastForwardError(GitHubConflictError):
    """The branch holds commits the pushed commit does not contain (pushed without force)."""

    code = "non_fast_forward"


class BranchChangedError(GitHubConflictError):
    """The branch was created or deleted by someone else between Shoal's look and its
    update. Retryable: the next attempt looks again."""

    code = "branch_changed"
    retryable = True


class ForcePushBannedError(GitHubConflictError):
    """The repository forbids force pushes to the branch (GH003)."""

    code = "force_push_banned"


class PushRejectedError(ShoalError):
    """GitHub rejected the ref update for a reason Shoal does not know (e.g. GH001, a
    large file); not retryable: the same push would be rejected again."""

    code = "push_rejected"


class GitRemoteError(ShoalError):
    """git failed talking to GitHub in a way none of the known texts explains."""

    code = "git_remote_failed"


def _lines(output: str) -> list[str]:
    # git pads `remote:` lines with spaces to clear the terminal line.
    return [line.strip() for line in output.splitlines() if line.strip()]


def _remote_messages(lines: list[str]) -> list[str]:
    messages = []
    for line in lines:
        if line.startswith("remote:"):
            text = line.removeprefix("remote:").strip()
            text = text.removeprefix("error:").strip().removeprefix("- ").strip()
            if text:
                messages.append(text)
    return messages


# The REST API's words for a refused ref update (`POST git/refs`, `PATCH git/refs/{ref}`).
_API_PROTECTED = re.compile(
    r"protected branch update failed|repository rule violations? found|protected branch",
    re.IGNORECASE,
)
_API_PROTECTED_REF = re.compile(r"update failed for (refs/\S+?)\.?(?:\s|$)", re.IGNORECASE)
_API_NOT_FAST_FORWARD = re.compile(r"not a fast.forward", re.IGNORECASE)
_API_FORCE_BANNED = re.compile(r"GH003|force-pushing to \S+ is not allowed", re.IGNORECASE)
_API_REF_RACE = re.compile(r"reference (already exists|does not exist)", re.IGNORECASE)


def _protected(output: str, lines: list[str], operation: str) -> BranchProtectedError | None:
    found = _PROTECTED_REF.search(output)
    if found is None:
        return None
    ref = found.group(1)
    messages = [m for m in _remote_messages(lines) if not m.startswith(("GH006", "GH013"))]
    rules = tuple(
        dict.fromkeys(
            rule for message in messages for pattern, rule in _RULES if pattern.search(message)
        )
    )
    said = "; ".join(rules) if rules else "; ".join(messages) or "protected branch"
    return BranchProtectedError(
        f"git {operation}: GitHub refused to update the protected branch {ref}: {said}",
        ref=ref,
        rules=rules,
        details={"remote": messages},
    )


def _summary(lines: list[str]) -> str:
    useful = [line for line in lines if not line.startswith(("hint:", "To ", "Done"))]
    return "; ".join(useful[-_OUTPUT_LINES:]) or "no message"


def classify_push_failure(  # noqa: PLR0911, PLR0912 - a decision table, in the order git prints
    stderr: str, returncode: int, *, operation: str = "push"
) -> ShoalError:
    """The typed error for a failed `git push` (stdout of `--porcelain` included) or
    `git fetch`, from git's output and exit code."""
    output = stderr
    lines = _lines(output)
    lowered = output.lower()
    where = f"git {operation}"
    if (protected := _protected(output, lines, operation)) is not None:
        return protected
    if (workflow := _WORKFLOW.search(output)) is not None:
        kind, path, permission, noun = workflow.groups()
        return MissingPermissionError(
            f"{where}: GitHub refuses to let a {kind} change the workflow {path} without "
            f"the `{permission}` {noun}",
            permission=permission,
            path=path,
        )
    if "gh003" in lowered:
        return ForcePushBannedError(f"{where}: {_summary(_remote_messages(lines))}")
    rejected = _REJECTED.search(output)
    reason = rejected.group(1) if rejected else ""
    if reason in ("non-fast-forward", "fetch first", "stale info"):
        return NonFastForwardError(
            f"{where}: the branch has commits that the pushed commit does not contain ({reason})"
        )
    if "could not read username" in lowered or "authentication failed" in lowered:
        return GitHubAuthError(f"{where}: GitHub refused the credential (HTTP 401)")
    status_match = _HTTP_STATUS.search(output)
    status = int(status_match.group(1)) if status_match else None
    if "repository not found" in lowered or status == 404 or _MISSING_REPO.search(output):
        return GitHubNotFoundError(f"{where}: repository not found (or not visible to Shoal)")
    if "not our ref" in lowered:
        # the base commit was force-pushed away (and collected), or never pushed
        return GitHubNotFoundError(f"{where}: the commit is not in the repository")
    if status == 429:
        # A git rate limit (GHES administrators can set one for git over HTTP): not now,
        # rather than a refusal; git's output carries no Retry-After, so the default wait.
        now = datetime.now(UTC)
        return SecondaryRateLimitError(
            f"{where}: GitHub is rate limiting git requests (HTTP 429)",
            retry_at=now + timedelta(seconds=SECONDARY_DEFAULT_WAIT_S),
            retry_after_s=SECONDARY_DEFAULT_WAIT_S,
            reason="secondary",
            details={"status": 429, "endpoint": where},
        )
    if status == 403 or "permission to " in lowered:
        return GitHubForbiddenError(f"{where}: {_summary(_remote_messages(lines) or lines)}")
    if status == 401:
        return GitHubAuthError(f"{where}: GitHub refused the credential (HTTP 401)")
    if (status is not None and status >= 500) or any(t in lowered for t in _TRANSIENT):
        return GitHubUnavailableError(f"{where}: {_summary(lines)}", status=status)
    if rejected is not None:
        return PushRejectedError(f"{where}: GitHub rejected the update ({reason})")
    if returncode < 0:  # killed by a signal: nothing GitHub said
        return GitHubUnavailableError(f"{where}: git was killed (signal {-returncode})")
    return GitRemoteError(f"{where} failed with exit code {returncode}: {_summary(lines)}")


def _with_answer(error: ShoalError, answer: ShoalError) -> ShoalError:
    # GitHub's answer stays with the refusal: its audit row quotes its status and request id.
    for key, value in answer.details.items():
        error.details.setdefault(key, value)
    error.answer = answer.answer
    return error


def classify_ref_refusal(error: ShoalError, *, ref: str) -> ShoalError:
    """The typed error for GitHub's 422 refusal of an update of `ref` (`refs/heads/...`)
    through the REST API; any other error is returned as it is."""
    if not isinstance(error, GitHubValidationError):
        return error
    where = error.answer.endpoint if error.answer is not None else ""
    said = error.message.removeprefix(f"{where}: ") if where else error.message
    text = "\n".join([said, *(str(item.get("message", "")) for item in error.errors)])
    if (workflow := _WORKFLOW.search(text)) is not None:
        kind, path, permission, noun = workflow.groups()
        refused: ShoalError = MissingPermissionError(
            f"GitHub refuses to let a {kind} change the workflow {path} without the "
            f"`{permission}` {noun}",
            permission=permission,
            path=path,
        )
    elif _API_FORCE_BANNED.search(text):
        refused = ForcePushBannedError(f"GitHub refused to force-update {ref}: {said}")
    elif _API_NOT_FAST_FORWARD.search(text):
        refused = NonFastForwardError(
            f"{ref} has commits that the new commit does not contain (not a fast forward)"
        )
    elif _API_REF_RACE.search(text):
        refused = BranchChangedError(f"{ref} changed while Shoal was updating it: {said}")
    else:
        rules = tuple(dict.fromkeys(rule for pattern, rule in _RULES if pattern.search(text)))
        if not rules and not _API_PROTECTED.search(text):
            return error
        found = _API_PROTECTED_REF.search(text)
        target = found.group(1) if found else ref
        reason = "; ".join(rules) or " ".join(text.split())
        refused = BranchProtectedError(
            f"GitHub refused to update the protected branch {target}: {reason}",
            ref=target,
            rules=rules,
            details={"remote": [line for line in text.splitlines() if line.strip()]},
        )
    return _with_answer(refused, error)
