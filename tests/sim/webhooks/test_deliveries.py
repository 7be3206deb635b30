"""The delivery log and its API: failures, redelivery with the same GUID, paging, status
filter, retention, injected drops and delays, and receivers that answer too slowly."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.sim.conftest import RunningSim
from tests.sim.webhooks.receiver import Receiver, free_port


def _app_client(sim: RunningSim) -> httpx.Client:
    return sim.http(sim.jwt(), scheme="Bearer")


def _all_pages(client: httpx.Client, url: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    response = client.get(url, params=params)
    while True:
        assert response.status_code == 200, response.text
        items.extend(response.json())
        link = response.headers.get("link")
        if not link:
            return items
        response = client.get(link.split(";")[0].strip("<>"))


def test_failed_delivery_is_redelivered_with_the_same_guid(
    make_sim: Callable[..., RunningSim],
) -> None:
    sim = make_sim()
    port = free_port()
    receiver = Receiver(port)  # not listening yet: connection refused
    sim.admin.set_webhook(sim.app()["id"], receiver.url, secret="s", events=["push"])
    sim.admin.push_commit("acme", "docs", {"x.md": "x\n"})
    assert sim.admin.wait_for_webhooks(10)
    with _app_client(sim) as client:
        [failed] = client.get("/app/hook/deliveries").json()
        assert failed["status_code"] == 0 and failed["status"] == "failed to connect"
        assert (failed["event"], failed["action"], failed["redelivery"]) == ("push", None, False)
        assert failed["installation_id"] == sim.app()["installations"]["acme"]
        receiver.start()
        try:
            attempt = client.post(f"/app/hook/deliveries/{failed['id']}/attempts")
            assert attempt.status_code == 202
            assert sim.admin.wait_for_webhooks(10)
            [got] = receiver.of("push")
            assert got.headers["x-github-delivery"] == failed["guid"]
            newest, oldest = client.get("/app/hook/deliveries").json()
            assert oldest["id"] == failed["id"]
            assert newest["guid"] == failed["guid"] and newest["redelivery"] is True
            assert (newest["status"], newest["status_code"]) == ("OK", 200)
            detail = client.get(f"/app/hook/deliveries/{newest['id']}").json()
            assert detail["url"] == receiver.url
            assert detail["request"]["headers"]["X-GitHub-Event"] == "push"
            assert detail["request"]["payload"] == got.payload
            assert detail["response"]["payload"] == "thanks"
            assert client.get("/app/hook/deliveries/123").status_code == 404
        finally:
            receiver.stop()


def test_deliveries_page_by_cursor_and_filter_by_status(
    hooked: RunningSim, receiver: Receiver
) -> None:
    for n in range(5):
        hooked.admin.push_commit("acme", "docs", {f"{n}.md": "x\n"})
    assert hooked.admin.wait_for_webhooks(10)
    receiver.status = 500
    for n in range(2):
        hooked.admin.push_commit("acme", "docs", {f"f{n}.md": "x\n"})
    assert hooked.admin.wait_for_webhooks(10)
    with _app_client(hooked) as client:
        paged = _all_pages(client, "/app/hook/deliveries", per_page=2)
        assert len(paged) == 7
        ids = [d["id"] for d in paged]
        assert ids == sorted(ids, reverse=True)  # newest first
        failures = _all_pages(client, "/app/hook/deliveries", status="failure")
        assert [d["status"] for d in failures] == ["Invalid HTTP Response: 500"] * 2
        assert len(_all_pages(client, "/app/hook/deliveries", status="success")) == 5
        assert client.get("/app/hook/deliveries", params={"status": "odd"}).status_code == 422
        # JWT only, like GitHub.
        token = hooked.installation_token()
        with hooked.http(token) as as_installation:
            assert as_installation.get("/app/hook/deliveries").status_code == 401
        config = client.get("/app/hook/config").json()
        assert config == {
            "content_type": "json",
            "url": receiver.url,
            "insecure_ssl": "0",
            "secret": "********",
        }
        # Retention: three days on GitHub.com, on the simulator clock.
    hooked.sim.clock.advance(3 * 86_400 + 60)
    with _app_client(hooked) as client:  # a fresh JWT: the old one expired meanwhile
        assert client.get("/app/hook/deliveries").json() == []


def test_dropped_and_delayed_deliveries(hooked: RunningSim, receiver: Receiver) -> None:
    admin = hooked.admin
    admin.set_webhook_faults(drop_next=1)
    admin.push_commit("acme", "docs", {"d.md": "dropped\n"})
    assert admin.wait_for_webhooks(10)
    assert receiver.requests == []
    [dropped] = admin.webhook_deliveries(event="push")
    assert (dropped["status"], dropped["status_code"]) == ("timed out", 0)

    admin.set_webhook_faults(delay_seconds=0.5)
    started = time.monotonic()
    admin.push_commit("acme", "docs", {"d.md": "late\n"})
    assert admin.wait_for_webhooks(10)
    assert time.monotonic() - started >= 0.5
    assert len(receiver.of("push")) == 1
    admin.clear_webhook_faults()


def test_a_receiver_slower_than_the_timeout_is_a_failure(
    hooked: RunningSim, receiver: Receiver
) -> None:
    hooked.admin.set_webhook_settings(timeout=0.3)
    receiver.delay = 1.0
    hooked.admin.push_commit("acme", "docs", {"s.md": "slow\n"})
    assert hooked.admin.wait_for_webhooks(10)
    [slow] = hooked.admin.webhook_deliveries(event="push")
    assert (slow["status"], slow["status_code"]) == ("timed out", 0)
    assert 0.3 <= slow["duration"] < 1.0
    assert len(receiver.requests) == 1  # it did arrive, just too late to count


def test_ghes_mode_headers_and_urls(
    make_sim: Callable[..., RunningSim], receiver: Receiver
) -> None:
    sim = make_sim(ghes=True)
    sim.admin.set_webhook(sim.app()["id"], receiver.url, events=["push"])
    sim.admin.push_commit("acme", "docs", {"g.md": "g\n"})
    assert sim.admin.wait_for_webhooks(10)
    [push] = receiver.of("push")
    assert push.headers["x-github-enterprise-version"] == sim.sim.config.ghes_version
    assert push.headers["x-github-enterprise-host"] == "127.0.0.1"
    assert push.payload["repository"]["url"].startswith(f"{sim.url}/api/v3/repos/")
    assert sim.sim.webhooks.settings.timeout == 30.0
    assert sim.sim.webhooks.settings.retention_days == 7.0
