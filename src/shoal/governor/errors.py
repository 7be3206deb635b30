"""Why the governor did not let a call go out: a rate limit (wait until `retry_at`) or no Redis.

Both are retryable and carry `retry_after_s`, which the worker uses as the retry delay (a task
handler may also turn a `RateLimitedError` into `Outcome.requeue_after(err.retry_after_s)`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from shoal.domain.errors import UnavailableError

__all__ = ["GovernorUnavailableError", "RateLimitReason", "RateLimitedError"]

RateLimitReason = Literal["primary", "secondary", "paused", "exhausted", "concurrency"]


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
