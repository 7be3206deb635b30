"""What the webhooks need from the simulator that hosts them, as small Protocols.

The simulator owns its :class:`~shoal_sim.webhooks.delivery.Webhooks`; the webhooks see it
only through these ports (the world, the clock, the settings, the event bus and git), never
as the simulator itself, so nothing here imports ``shoal_sim.simulator``.
"""

from __future__ import annotations

from typing import Protocol

from shoal_sim.clock import SimClock
from shoal_sim.config import SimConfig
from shoal_sim.git import GitStore
from shoal_sim.state.events import EventBus
from shoal_sim.state.world import World


class InstallationHost(Protocol):
    """Installing and re-scoping Apps: the world and the time it happens at."""

    @property
    def world(self) -> World: ...

    @property
    def clock(self) -> SimClock: ...


class DeliveryHost(InstallationHost, Protocol):
    """Delivering: the Apps' webhook URLs and secrets (the world), the clock, and the
    settings that decide URLs, timeouts and headers (GitHub.com or GHES, public origin)."""

    @property
    def config(self) -> SimConfig: ...


class EventHost(Protocol):
    """Following the event bus: the events, the world and the repositories' git."""

    @property
    def events(self) -> EventBus: ...

    @property
    def world(self) -> World: ...

    @property
    def git(self) -> GitStore: ...

    @property
    def signed_commits(self) -> dict[str, float]:
        """sha -> time GitHub signed the commit (``status`` payloads show verification)."""
        ...


class Host(DeliveryHost, EventHost, Protocol):
    """Everything :func:`~shoal_sim.webhooks.attach` wires together."""
