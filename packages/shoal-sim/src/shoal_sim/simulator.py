"""The simulator's components wired together, independent of HTTP.

One :class:`Simulator` holds the world, the git store, the ledger, the event bus, the rate
limiter, faults and the clock. The ASGI app (``server``), the seeder (``seed``) and the
scenario API (``admin``) all work on it; tests can also drive it in-process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from shoal_sim.clock import SimClock
from shoal_sim.config import SimConfig
from shoal_sim.faults import Faults
from shoal_sim.git import GitStore
from shoal_sim.ratelimit import RateLimiter
from shoal_sim.state import EventBus, Ledger, World
from shoal_sim.state.access import AnonymousCaller, Caller
from shoal_sim.state.identity import Identities
from shoal_sim.webhooks import attach as attach_webhooks


@dataclass(frozen=True)
class ServedResponse:
    """One REST response as served, for observers such as the conformance checker."""

    method: str
    path: str  # GitHub's path template of the operation
    status: int
    body: bytes
    content_type: str | None
    ghes_path: bool  # served under /api/v3


@dataclass
class PushSession:
    """What the ``proc-receive`` hook's callback needs to know about one ``git push``."""

    repo_id: int
    caller: Caller
    request_id: str
    secret: str
    web: str  # the site root the push came to (refusals link there)
    results: list[dict[str, object]] = field(default_factory=list)


class Simulator:
    def __init__(self, config: SimConfig, clock: SimClock | None = None) -> None:
        self.config = config
        self.clock = clock or SimClock()
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.world = World(self.clock, config.seed)
        self.git = GitStore(config.data_dir)
        self.ledger = Ledger()
        self.events = EventBus()
        self.limits = RateLimiter(config.rate_limits, self.clock)
        self.faults = Faults(config.seed)
        self._secrets = Identities(config.seed + 1)
        # Drawn even when a token is given, so later secrets do not depend on it.
        derived = "simadmin_" + self._secrets.secret(32)
        if not config.admin_token:
            config.admin_token = derived
        # sha -> time GitHub "signed" it; commits created through the API on GitHub.com.
        self.signed_commits: dict[str, float] = {}
        self.pushes: dict[str, PushSession] = {}
        # Called with every REST response served (tests validate them against the OpenAPI
        # description); observers must be quick and must not raise.
        self.response_observers: list[Callable[[ServedResponse], None]] = []
        # (owner/repo, what was asked: "info/refs", "git-upload-pack", ...) of each git smart
        # HTTP request, in order: tests count the fetches a client made.
        self.git_requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._request_seq = 0
        # App webhooks follow the event bus; delivery threads start on first use.
        self.webhooks = attach_webhooks(self)

    def new_request_id(self) -> str:
        # Shaped like GitHub's "C0A8:3B1F:1B2E3F:1C4D5E:6650A1B2".
        with self._lock:
            self._request_seq += 1
            n = self._request_seq
        return f"5150:{self.config.seed % 0xFFFF:04X}:{n:06X}:{n * 7919 % 0xFFFFFF:06X}:{n:08X}"

    def new_push_secret(self) -> str:
        return self._secrets.secret(32)

    def anonymous(self) -> Caller:
        return AnonymousCaller()
