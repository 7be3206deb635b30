"""The mutation ledger: every mutating request the simulator received, in arrival order.

Tests compare it with Shoal's audit log, so it records refused requests too (with their
status): what matters is what the client *asked* for.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Actor:
    kind: str  # "installation" | "app" | "user" | "anonymous" | "admin"
    id: int | None = None
    login: str | None = None  # user login, or app slug for apps/installations
    app_id: int | None = None

    def describe(self) -> str:
        if self.kind == "installation":
            return f"installation {self.id} ({self.login})"
        return f"{self.kind} {self.login or self.id or ''}".strip()


ANONYMOUS = Actor("anonymous")
ADMIN = Actor("admin", login="simulator")


@dataclass(frozen=True)
class LedgerEntry:
    seq: int
    time: float
    request_id: str
    actor: Actor
    method: str  # HTTP method, or "GIT" for a push
    path: str
    operation: str  # route template such as "POST /repos/{owner}/{repo}/git/refs", or "git push"
    repo: str | None
    status: int
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Ledger:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LedgerEntry] = []
        self._seq = 0

    def record(
        self,
        *,
        time: float,
        request_id: str,
        actor: Actor,
        method: str,
        path: str,
        operation: str,
        repo: str | None,
        status: int,
        detail: dict[str, Any] | None = None,
    ) -> LedgerEntry:
        with self._lock:
            self._seq += 1
            entry = LedgerEntry(
                self._seq,
                time,
                request_id,
                actor,
                method,
                path,
                operation,
                repo,
                status,
                detail or {},
            )
            self._entries.append(entry)
            return entry

    def entries(self, since: int = 0) -> list[LedgerEntry]:
        with self._lock:
            return [e for e in self._entries if e.seq > since]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
