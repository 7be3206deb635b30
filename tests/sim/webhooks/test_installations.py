"""installation and installation_repositories webhooks from the scenario API."""

from __future__ import annotations

from collections.abc import Callable

from tests.sim.conftest import RunningSim
from tests.sim.webhooks.receiver import Receiver


def test_installation_lifecycle_is_announced(
    make_sim: Callable[..., RunningSim], receiver: Receiver
) -> None:
    sim = make_sim()
    admin = sim.admin
    lite = sim.app("lite")
    # Installation events reach the App whatever it subscribes to.
    admin.set_webhook(lite["id"], receiver.url, secret="k", events=[])
    inst = admin.create_installation(lite["id"], "globex", repository_selection="all")
    admin.change_installation_repositories(inst["id"], remove=["beta"])
    admin.change_installation_repositories(inst["id"], add=["beta"])
    admin.suspend_installation(inst["id"])
    admin.suspend_installation(inst["id"], suspended=False)
    admin.accept_installation_permissions(
        inst["id"], {"contents": "write", "metadata": "read", "issues": "read"}
    )
    admin.delete_installation(inst["id"])
    assert admin.wait_for_webhooks(10)

    seen = [(r.event, r.payload["action"]) for r in receiver.requests]
    assert seen == [
        ("installation", "created"),
        ("installation_repositories", "removed"),
        ("installation_repositories", "added"),
        ("installation", "suspend"),
        ("installation", "unsuspend"),
        ("installation", "new_permissions_accepted"),
        ("installation", "deleted"),
    ]
    created = receiver.requests[0].payload
    assert created["installation"]["id"] == inst["id"]
    assert created["installation"]["app_id"] == lite["id"]
    assert [r["full_name"] for r in created["repositories"]] == ["globex/alpha", "globex/beta"]
    assert receiver.requests[1].payload["repositories_removed"][0]["name"] == "beta"
    assert receiver.requests[1].payload["repository_selection"] == "selected"
    assert receiver.requests[3].payload["installation"]["suspended_at"] is not None
    assert receiver.requests[5].payload["installation"]["permissions"]["issues"] == "read"
    assert inst["id"] not in sim.sim.world.installations


def test_suspended_installations_receive_no_repository_events(
    hooked: RunningSim, receiver: Receiver
) -> None:
    acme = hooked.app()["installations"]["acme"]
    hooked.admin.suspend_installation(acme)
    hooked.admin.push_commit("acme", "docs", {"q.md": "quiet\n"})
    assert hooked.admin.wait_for_webhooks(10)
    assert [r.payload["action"] for r in receiver.requests] == ["suspend"]
