"""The webhook component: announces events to Apps, delivers them in the background, and
keeps the delivery log that ``/app/hook/deliveries`` serves.

Callers (the event subscriptions, the admin API) call :meth:`Webhooks.announce` with a
payload builder. Announcing only snapshots who should receive the event and queues it;
building the payload (which may read git) and the HTTP POST happen on one of the delivery
workers (`pool.DeliveryPool`), never in the request that caused the event and never under
the world lock.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shoal_sim.urls import Urls
from shoal_sim.webhooks.faults import WebhookFaults
from shoal_sim.webhooks.host import DeliveryHost
from shoal_sim.webhooks.log import Delivery, DeliveryLog
from shoal_sim.webhooks.pool import WORKERS, DeliveryPool
from shoal_sim.webhooks.routing import Recipient, RepoMemory
from shoal_sim.webhooks.sender import Sender, Target, dropped, headers_for

if TYPE_CHECKING:
    from shoal_sim.webhooks.payloads.pulls import PullBodies

log = logging.getLogger(__name__)

# Builds one recipient's payload; runs on a delivery worker.
Builder = Callable[[Urls, Recipient], dict[str, Any]]
# Sees every payload built (the tests validate them against GitHub's schemas).
Observer = Callable[[str, dict[str, Any]], None]
HOOK_ID_BASE = 500_000_000


@dataclass
class WebhookSettings:
    timeout: float  # seconds a receiver has to answer: 10 on GitHub.com, 30 on GHES
    retention_days: float  # how long deliveries stay listed: 3 on GitHub.com, 7 on GHES


class Webhooks:
    def __init__(self, host: DeliveryHost) -> None:
        self._host = host
        ghes = host.config.ghes
        self.settings = WebhookSettings(30.0 if ghes else 10.0, 7.0 if ghes else 3.0)
        self.log = DeliveryLog(self.settings.retention_days)
        self.faults = WebhookFaults(host.config.seed)
        self.memory = RepoMemory()
        self.observers: list[Observer] = []
        self.origin: str | None = None
        # Set by the pull-request feature; until then its events are not delivered.
        self.pull_bodies: PullBodies | None = None
        self._pool = DeliveryPool(WORKERS)
        self._sender: Sender | None = None
        self._sender_lock = threading.Lock()
        self._guid_lock = threading.Lock()
        self._guids = random.Random(host.config.seed + 7)  # noqa: S311 - ids, not secrets

    # -- lifecycle ---------------------------------------------------------------------------

    def serve(self, origin: str) -> None:
        """Called once the server listens: payload URLs point at ``origin``."""
        self.origin = origin.rstrip("/")
        self.memory.refresh(self._host.world)

    def _http(self) -> Sender:
        # Made on first delivery: simulators that never deliver own no HTTP client.
        with self._sender_lock:
            if self._sender is None:
                self._sender = Sender(WORKERS)
            return self._sender

    def close(self) -> None:
        self._pool.close()
        with self._sender_lock:
            if self._sender is not None:
                self._sender.close()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until every queued delivery was attempted; False on timeout."""
        return self._pool.wait_idle(timeout)

    @property
    def pending(self) -> int:
        return self._pool.pending

    def urls(self) -> Urls:
        web = (self._host.config.public_origin or self.origin or "http://127.0.0.1").rstrip("/")
        return Urls(f"{web}/api/v3" if self._host.config.ghes else web, web)

    def new_guid(self) -> str:
        with self._guid_lock:
            return str(uuid.UUID(int=self._guids.getrandbits(128), version=4))

    # -- delivering --------------------------------------------------------------------------

    def announce(
        self,
        *,
        key: int,
        event: str,
        action: str | None,
        recipients: list[Recipient],
        build: Builder,
        repository_id: int | None,
    ) -> None:
        """Queue one event for ``recipients``; ``key`` orders it (the repository id)."""
        if not recipients:
            return
        guid = self.new_guid()  # one per event, shared by every App that receives it

        def job() -> None:
            urls = self.urls()
            for recipient in recipients:
                try:
                    payload = build(urls, recipient)
                except Exception:
                    log.exception("building %s.%s payload failed", event, action)
                    continue
                for observer in self.observers:
                    observer(event, payload)
                body = json.dumps(payload, separators=(",", ":")).encode()
                inst_id = recipient.installation.id
                self._deliver(
                    recipient.app.id, guid, event, action, inst_id, repository_id, body, False
                )

        self._pool.submit(key, job)

    def redeliver(self, delivery: Delivery) -> None:
        """A new attempt with the same GUID and body, flagged ``redelivery``."""

        def job() -> None:
            self._deliver(
                delivery.app_id,
                delivery.guid,
                delivery.event,
                delivery.action,
                delivery.installation_id,
                delivery.repository_id,
                delivery.body,
                True,
            )

        self._pool.submit(delivery.repository_id or 0, job)

    def _target(self, app_id: int) -> Target | None:
        config = self._host.config
        with self._host.world.lock:
            app = self._host.world.apps.get(app_id)
            if app is None or not app.webhook_url:
                return None
            return Target(
                app.id,
                HOOK_ID_BASE + app.id,
                app.webhook_url,
                app.webhook_secret,
                config.ghes_version if config.ghes else None,
                self.urls().host if config.ghes else None,
            )

    def _deliver(
        self,
        app_id: int,
        guid: str,
        event: str,
        action: str | None,
        installation_id: int | None,
        repository_id: int | None,
        body: bytes,
        redelivery: bool,
    ) -> None:
        target = self._target(app_id)
        if target is None:
            return
        headers = headers_for(target, event, guid, body)
        verdict = self.faults.draw(event, redelivery)
        if verdict.delay and self._pool.stopping.wait(verdict.delay):
            return
        clock = self._host.clock
        timeout = self.settings.timeout
        attempt = (
            dropped(clock.time(), timeout)
            if verdict.drop
            else self._http().post(target.url, headers, body, timeout, clock.time)
        )
        self.log.add(
            Delivery(
                self.log.next_id(),
                guid,
                app_id,
                event,
                action,
                installation_id,
                repository_id,
                target.url,
                headers,
                body,
                redelivery,
                attempt,
            )
        )
