"""Admin endpoints that steer the run: seeding, faults, the clock, limits and the ledger."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from shoal_sim.admin.framework import Call, admin
from shoal_sim.clock import SimClock
from shoal_sim.faults import FaultConfig
from shoal_sim.seed import SeedDocument, apply_seed


@admin("GET", "/info")
def info(call: Call) -> Any:
    sim = call.sim
    base = call.base_url
    rest = f"{base}/api/v3" if sim.config.ghes else base
    return {
        "mode": sim.config.mode.value,
        "rest_url": rest,
        "graphql_url": f"{base}/api/graphql" if sim.config.ghes else f"{base}/graphql",
        "git_url": base,
        "admin_url": f"{base}/_sim",
        "apps": [
            {"id": a.id, "slug": a.slug, "client_id": a.client_id} for a in sim.world.apps.values()
        ],
        "installations": [
            {"id": i.id, "app_id": i.app_id, "account": i.account}
            for i in sim.world.installations.values()
        ],
        "repos": len(sim.world.repos),
    }


@admin("POST", "/seed", 201)
def seed(call: Call) -> Any:
    result = apply_seed(call.sim, SeedDocument.model_validate(call.body))
    return asdict(result)


@admin("GET", "/faults")
def get_faults(call: Call) -> Any:
    return {**call.sim.faults.config.to_json(), "storm_until": call.sim.limits.storm_until}


@admin("PUT", "/faults")
def set_faults(call: Call) -> Any:
    config = FaultConfig(
        **{k: v for k, v in call.body.items() if k in FaultConfig.__dataclass_fields__}
    )
    call.sim.faults.configure(config)
    return config.to_json()


@admin("DELETE", "/faults")
def clear_faults(call: Call) -> Any:
    call.sim.faults.configure(FaultConfig())
    call.sim.limits.storm_until = 0.0


@admin("POST", "/faults/secondary-storm")
def secondary_storm(call: Call) -> Any:
    """Every GitHub request gets a secondary-rate-limit 403 for ``seconds`` (clock time)."""
    seconds = float(call.body.get("seconds", 60))
    call.sim.limits.storm_until = call.sim.clock.time() + seconds
    return {"storm_until": call.sim.limits.storm_until}


@admin("GET", "/clock")
def get_clock(call: Call) -> Any:
    clock = call.sim.clock
    return {"time": clock.time(), "speed": clock.speed if isinstance(clock, SimClock) else 1.0}


@admin("POST", "/clock")
def set_clock(call: Call) -> Any:
    clock = call.sim.clock
    if "advance" in call.body:
        clock.advance(float(call.body["advance"]))
    if "speed" in call.body:
        clock.set_speed(float(call.body["speed"]))
    return get_clock.fn(call)


@admin("POST", "/limits/reset")
def reset_limits(call: Call) -> Any:
    call.sim.limits.reset()


@admin("GET", "/ledger")
def ledger(call: Call) -> Any:
    since = int(call.query.get("since", "0") or 0)
    return {"entries": [e.to_json() for e in call.sim.ledger.entries(since)]}


@admin("DELETE", "/ledger")
def clear_ledger(call: Call) -> Any:
    call.sim.ledger.clear()


HANDLERS = [
    info,
    seed,
    get_faults,
    set_faults,
    clear_faults,
    secondary_storm,
    get_clock,
    set_clock,
    reset_limits,
    ledger,
    clear_ledger,
]
