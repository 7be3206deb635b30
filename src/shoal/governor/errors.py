"""Why the governor did not let a call go out: a rate limit (wait until `retry_at`) or no Redis.

Both are retryable and carry `retry_after_s`, which the worker uses as the retry delay (a task
handler may also turn a `RateLimitedError` into `Outcome.requeue_after(err.retry_after_s)`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from shoal.domain.errors import UnavailableError
from shoal.governor.state import GovernorLimits

__all__ = ["GovernorUnavailableError", "RateLimitReason", "RateLimitedError", "refusal"]

# `pacing`: a write waits for its turn under the content-creation limits (per minute, per
# hour, minimum gap); the others name GitHub's limits or the governor's own state.
RateLimitReason = Literal["primary", "secondary", "paused", "exhausted", "concurrency", "pacing"]


class RateLimitedError(UnavailableError):
    """A limit says: not now. Try again at `retry_at` (`retry_after_s` from when it was raised)."""

    code = "rate_limited"

    def __init__(
        self,
        message: str,
        *,
        retry_at: datetime,
        retry_after_s: float,
        reason: RateLimitReason,
        installation_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            message,
            details={
                "reason": reason,
                "retry_at": retry_at.isoformat(),
                "retry_after_s": round(retry_after_s, 3),
                **({"installation_id": installation_id} if installation_id is not None else {}),
                **(details or {}),
            },
        )
        self.retry_at = retry_at
        self.retry_after_s = retry_after_s
        self.reason: RateLimitReason = reason
        self.installation_id = installation_id


class GovernorUnavailableError(UnavailableError):
    """Redis cannot be reached. Calls stop rather than go out unpaced: losing Redis slows work,
    it never lets a limit be exceeded."""

    code = "governor_unavailable"

    def __init__(self, message: str, *, retry_after_s: float | None = 5.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def refusal(
    limits: GovernorLimits,
    *,
    installation_id: int,
    resource: str,
    reason: RateLimitReason,
    detail: str,
    retry_at: datetime,
    retry_after_s: float,
) -> RateLimitedError:
    """The governor's own "not now", worded for people. `detail` is what the acquire script
    said: the pause's reason, the budget's source, or the write limit that holds a write."""
    pacing = {
        "gap": f"at least {limits.min_write_interval_s:g} s apart",
        "minute": f"at most {limits.writes_per_minute} a minute",
        "hour": f"at most {limits.writes_per_hour} an hour",
    }
    what = {
        "paused": f"paused after a {detail or 'rate'} limit",
        "exhausted": f"out of its {resource} budget until the window resets",
        "concurrency": f"at its cap of {limits.max_concurrent} concurrent calls",
        "pacing": f"pacing its writes ({pacing.get(detail, 'content-creation limits')})",
    }.get(reason, reason)
    return RateLimitedError(
        f"GitHub installation {installation_id} is {what}",
        retry_at=retry_at,
        retry_after_s=retry_after_s,
        reason=reason,
        installation_id=installation_id,
        details={"resource": resource, **({"limit": detail} if reason == "pacing" else {})},
    )
