"""The GitHub API rate governor (Redis): budgets, concurrency caps and pauses per installation.

Pacing is this component's job, not retry loops in callers: the GitHub adapter asks
`Governor.acquire` before every call and reports what responses say (`observe`, `pause`).
Redis holds only what can be rebuilt; without Redis the governor refuses (retryably) rather
than let calls go out unpaced.
"""

from shoal.governor.errors import GovernorUnavailableError, RateLimitedError, RateLimitReason
from shoal.governor.governor import Governor
from shoal.governor.lease import Lease
from shoal.governor.state import (
    BucketState,
    CallKind,
    GovernorLimits,
    GovernorState,
    resource_of,
)

__all__ = [
    "BucketState",
    "CallKind",
    "Governor",
    "GovernorLimits",
    "GovernorState",
    "GovernorUnavailableError",
    "Lease",
    "RateLimitReason",
    "RateLimitedError",
    "resource_of",
]
