"""Admin endpoints for webhooks: an App's webhook settings, delivery faults, the delivery
log, waiting for idle, and the installation lifecycle actions GitHub announces by webhook."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from shoal_sim.admin.framework import Call, admin
from shoal_sim.state.models import Installation
from shoal_sim.state.world import NotFoundError
from shoal_sim.webhooks import Installations, WebhookFaultConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebhookPatch(_Strict):
    url: str | None = None
    secret: str | None = None
    events: list[str] | None = None
    active: bool = True


class NewInstallation(_Strict):
    app_id: int
    org: str
    repository_selection: str = "all"
    repositories: list[str] = []
    permissions: dict[str, str] | None = None


class RepositoryChange(_Strict):
    add: list[str] = []
    remove: list[str] = []


class Settings(_Strict):
    timeout: float | None = None
    retention_days: float | None = None


def _lifecycle(call: Call) -> tuple[Installations, Installation]:
    installations = Installations(call.sim, call.sim.webhooks)
    return installations, installations.get(int(call.params["installation_id"]))


@admin("PUT", "/apps/{app_id:int}/webhook")
def set_webhook(call: Call) -> Any:
    """Changing events also updates the installations, as if each accepted the change."""
    patch = WebhookPatch.model_validate(call.body)
    world = call.sim.world
    with world.lock:
        app = world.apps.get(int(call.params["app_id"]))
        if app is None:
            raise NotFoundError(f"app {call.params['app_id']}")
        app.webhook_url = patch.url if patch.active else None
        if patch.secret is not None:
            app.webhook_secret = patch.secret
        if patch.events is not None:
            app.events = list(patch.events)
            for inst in world.installations.values():
                if inst.app_id == app.id:
                    inst.events = list(patch.events)
        return {"url": app.webhook_url, "secret": app.webhook_secret, "events": app.events}


@admin("GET", "/webhooks/settings")
def get_settings(call: Call) -> Any:
    s = call.sim.webhooks.settings
    return {"timeout": s.timeout, "retention_days": s.retention_days}


@admin("PUT", "/webhooks/settings")
def set_settings(call: Call) -> Any:
    change = Settings.model_validate(call.body)
    webhooks = call.sim.webhooks
    if change.timeout is not None:
        webhooks.settings.timeout = change.timeout
    if change.retention_days is not None:
        webhooks.settings.retention_days = change.retention_days
        webhooks.log.retention = change.retention_days * 86_400
    return get_settings.fn(call)


@admin("GET", "/webhooks/faults")
def get_faults(call: Call) -> Any:
    return call.sim.webhooks.faults.config.to_json()


@admin("PUT", "/webhooks/faults")
def set_faults(call: Call) -> Any:
    fields = WebhookFaultConfig.__dataclass_fields__
    config = WebhookFaultConfig(**{k: v for k, v in call.body.items() if k in fields})
    call.sim.webhooks.faults.configure(config)
    return config.to_json()


@admin("DELETE", "/webhooks/faults")
def clear_faults(call: Call) -> Any:
    call.sim.webhooks.faults.configure(WebhookFaultConfig())


@admin("GET", "/webhooks/deliveries")
def deliveries(call: Call) -> Any:
    """Every delivery with its request and response, oldest first (``app_id``, ``event``)."""
    webhooks = call.sim.webhooks
    app_id = call.query.get("app_id")
    event = call.query.get("event")
    items = webhooks.log.list(
        call.sim.clock.time(), app_id=int(app_id) if app_id and app_id.isdigit() else None
    )
    return {
        "pending": webhooks.pending,
        "deliveries": [
            {**d.detail(), "app_id": d.app_id}
            for d in reversed(items)
            if event is None or d.event == event
        ],
    }


@admin("DELETE", "/webhooks/deliveries")
def clear_deliveries(call: Call) -> Any:
    call.sim.webhooks.log.clear()


@admin("POST", "/webhooks/flush")
def flush(call: Call) -> Any:
    """Wait until every queued delivery was attempted (``timeout`` seconds, default 30)."""
    timeout = float(call.body.get("timeout", 30))
    idle = call.sim.webhooks.wait_idle(timeout)
    return {"idle": idle, "pending": call.sim.webhooks.pending}


@admin("POST", "/installations", 201)
def create_installation(call: Call) -> Any:
    req = NewInstallation.model_validate(call.body)
    app = call.sim.world.apps.get(req.app_id)
    if app is None:
        raise NotFoundError(f"app {req.app_id}")
    inst = Installations(call.sim, call.sim.webhooks).create(
        app,
        req.org,
        repository_selection=req.repository_selection,
        repositories=req.repositories,
        permissions=req.permissions,
    )
    return {"id": inst.id, "account": inst.account, "permissions": inst.permissions}


@admin("DELETE", "/installations/{installation_id:int}")
def delete_installation(call: Call) -> Any:
    installations, inst = _lifecycle(call)
    installations.delete(inst)


@admin("POST", "/installations/{installation_id:int}/suspend")
def suspend(call: Call) -> Any:
    installations, inst = _lifecycle(call)
    installations.suspend(inst, True)


@admin("POST", "/installations/{installation_id:int}/unsuspend")
def unsuspend(call: Call) -> Any:
    installations, inst = _lifecycle(call)
    installations.suspend(inst, False)


@admin("PUT", "/installations/{installation_id:int}/permissions")
def accept_permissions(call: Call) -> Any:
    installations, inst = _lifecycle(call)
    installations.accept_permissions(inst, {str(k): str(v) for k, v in call.body.items()})
    return dict(inst.permissions)


@admin("POST", "/installations/{installation_id:int}/repositories")
def change_repositories(call: Call) -> Any:
    change = RepositoryChange.model_validate(call.body)
    installations, inst = _lifecycle(call)
    installations.change_repositories(inst, change.add, change.remove)
    return {"repository_selection": inst.repository_selection}


HANDLERS = [
    set_webhook,
    get_settings,
    set_settings,
    get_faults,
    set_faults,
    clear_faults,
    deliveries,
    clear_deliveries,
    flush,
    create_installation,
    delete_installation,
    suspend,
    unsuspend,
    accept_permissions,
    change_repositories,
]
__all__ = ["HANDLERS"]
