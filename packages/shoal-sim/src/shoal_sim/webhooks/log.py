"""The delivery log behind ``/app/hook/deliveries``: every attempt, kept for the retention
window on the simulator clock (3 days on GitHub.com, 7 on GHES), newest first."""

from __future__ import annotations

import bisect
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from shoal_sim.clock import iso

DAY = 86_400.0


@dataclass(frozen=True)
class Attempt:
    """One POST to a receiver: what was sent and what came back."""

    delivered_at: float
    duration: float
    status: str  # GitHub's wording: "OK", "Invalid HTTP Response: 500", "timed out", ...
    status_code: int  # 0 when no HTTP response arrived
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str | None = None

    @property
    def succeeded(self) -> bool:
        # GitHub's `status=success` filter means 2xx and 3xx answers.
        return 200 <= self.status_code < 400


@dataclass(frozen=True)
class Delivery:
    id: int
    guid: str
    app_id: int
    event: str
    action: str | None
    installation_id: int | None
    repository_id: int | None
    url: str
    request_headers: dict[str, str]
    body: bytes
    redelivery: bool
    attempt: Attempt

    def item(self) -> dict[str, Any]:
        """The ``hook-delivery-item`` body."""
        return {
            "id": self.id,
            "guid": self.guid,
            "delivered_at": iso(self.attempt.delivered_at),
            "redelivery": self.redelivery,
            "duration": round(self.attempt.duration, 2),
            "status": self.attempt.status,
            "status_code": self.attempt.status_code,
            "event": self.event,
            "action": self.action,
            "installation_id": self.installation_id,
            "repository_id": self.repository_id,
            "throttled_at": None,
        }

    def detail(self) -> dict[str, Any]:
        """The ``hook-delivery`` body, with the request and the receiver's response."""
        return {
            **self.item(),
            "url": self.url,
            "request": {"headers": dict(self.request_headers), "payload": json.loads(self.body)},
            "response": {
                "headers": dict(self.attempt.response_headers),
                "payload": self.attempt.response_body,
            },
        }


class DeliveryLog:
    def __init__(self, retention_days: float) -> None:
        self.retention = retention_days * DAY
        self._lock = threading.Lock()
        self._items: list[Delivery] = []  # oldest first; ids increase
        self._seq = 0

    def next_id(self) -> int:
        with self._lock:
            self._seq += 1
            # Large, like GitHub's delivery ids, so clients never mistake them for small counters.
            return 10_000_000_000 + self._seq

    def add(self, delivery: Delivery) -> None:
        with self._lock:
            # Workers take ids and add concurrently, so one may come in after a later id:
            # inserted in place, the log stays in id order without sorting all of it.
            bisect.insort(self._items, delivery, key=lambda d: d.id)

    def _prune(self, now: float) -> None:
        cutoff = now - self.retention
        self._items = [d for d in self._items if d.attempt.delivered_at >= cutoff]

    def list(
        self,
        now: float,
        *,
        app_id: int | None = None,
        status: str | None = None,
        before_id: int | None = None,
    ) -> list[Delivery]:
        """Newest first; ``status`` is ``success`` or ``failure``; ``before_id`` is a cursor."""
        with self._lock:
            self._prune(now)
            items = list(reversed(self._items))
        return [
            d
            for d in items
            if (app_id is None or d.app_id == app_id)
            and (status is None or d.attempt.succeeded == (status == "success"))
            and (before_id is None or d.id < before_id)
        ]

    def find(self, now: float, app_id: int, delivery_id: int) -> Delivery | None:
        with self._lock:
            self._prune(now)
            return next(
                (d for d in self._items if d.id == delivery_id and d.app_id == app_id), None
            )

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
