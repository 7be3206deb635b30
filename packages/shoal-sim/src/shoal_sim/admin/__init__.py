"""The scenario-control API under ``/_sim`` (clearly not GitHub's surface).

Protected by the simulator's admin token (``Authorization: Bearer <token>``). ``world``
creates and changes orgs, users, repositories and Apps; ``control`` handles seeding,
faults, the clock, rate-limit resets and the mutation ledger; ``webhooks`` handles App
webhook settings, delivery faults and the installation lifecycle; ``pulls`` acts as a
human on pull requests and reports CI.
"""

from starlette.routing import BaseRoute

from shoal_sim.admin import control, pulls, webhooks, world
from shoal_sim.admin.framework import build_routes
from shoal_sim.simulator import Simulator


def routes(sim: Simulator) -> list[BaseRoute]:
    return build_routes(
        sim, [*world.HANDLERS, *control.HANDLERS, *webhooks.HANDLERS, *pulls.HANDLERS]
    )


__all__ = ["routes"]
