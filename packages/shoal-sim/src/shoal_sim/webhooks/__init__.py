"""GitHub App webhooks: who receives which event, the payloads, signed background delivery,
the delivery log behind ``/app/hook/deliveries``, redelivery, and delivery faults.

The package owns everything between the simulator's event bus and a receiver's HTTP
endpoint. :func:`attach` wires it to its host, the simulator, seen only through the small
ports of ``host`` (the simulator owns the webhooks, never the other way round); the REST
routes (``routes/hooks.py``) and the scenario API (``admin/webhooks.py``) use the
:class:`Webhooks` it returns as ``sim.webhooks``.
"""

from __future__ import annotations

from shoal_sim.webhooks.delivery import Webhooks, WebhookSettings
from shoal_sim.webhooks.faults import WebhookFaultConfig
from shoal_sim.webhooks.host import Host
from shoal_sim.webhooks.installations import Installations
from shoal_sim.webhooks.log import Delivery
from shoal_sim.webhooks.payloads.pulls import PullBodies
from shoal_sim.webhooks.pull_subscriptions import subscribe_pulls
from shoal_sim.webhooks.signing import signature_256, verify
from shoal_sim.webhooks.subscriptions import subscribe


def attach(host: Host) -> Webhooks:
    """Create the component and subscribe it to ``host.events``."""
    webhooks = Webhooks(host)
    subscribe_pulls(host, subscribe(host, webhooks))
    return webhooks


__all__ = [
    "Delivery",
    "Host",
    "Installations",
    "PullBodies",
    "WebhookFaultConfig",
    "WebhookSettings",
    "Webhooks",
    "attach",
    "signature_256",
    "verify",
]
