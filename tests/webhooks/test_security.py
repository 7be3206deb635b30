"""What `POST /api/v1/github/webhooks` refuses, and that nothing of a refused delivery is
stored or queued: missing or wrong signatures, oversized and malformed bodies, missing
headers, no secret configured; and that a replayed delivery is answered without a second
row or a second run."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from shoal.services.webhooks import WEBHOOK_TASK
from tests.webhooks.conftest import HOOK_PATH, MAX_BODY, SECRET, Hooks, sign

PING = {"zen": "Keep it logically awesome.", "hook_id": 1}


def _nothing_stored(hooks: Hooks) -> None:
    assert hooks.deliveries() == []
    assert hooks.tasks(WEBHOOK_TASK) == []


def test_a_signed_delivery_is_stored_and_queued_without_an_api_token(hooks: Hooks) -> None:
    response = hooks.post("ping", PING, guid="guid-1")
    assert response.status_code == 202, response.text
    assert response.json()["duplicate"] is False
    (row,) = hooks.deliveries()
    assert (row["guid"], row["event"], row["outcome"]) == ("guid-1", "ping", None)
    assert json.loads(row["payload"]) == PING
    (task,) = hooks.tasks(WEBHOOK_TASK)
    assert task["payload"] == {"delivery": row["id"], "repo": None}


def test_a_delivery_without_a_signature_is_refused(hooks: Hooks) -> None:
    response = hooks.post("ping", PING, signature=None)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_signature"
    _nothing_stored(hooks)


@pytest.mark.parametrize(
    "signature",
    [
        sign(json.dumps(PING).encode(), "another-secret"),
        sign(b"another body"),
        "sha256=",
        "sha1=" + "0" * 40,
        "sha256=" + "z" * 64,
        sign(json.dumps(PING).encode()).upper(),  # the SHA256= prefix is case-sensitive
    ],
    ids=["other-secret", "other-body", "empty", "sha1", "not-hex", "prefix-case"],
)
def test_a_badly_signed_delivery_is_refused(hooks: Hooks, signature: str) -> None:
    response = hooks.post("ping", PING, signature=signature)
    assert response.status_code == 401, response.text
    assert "SHOAL_GITHUB_WEBHOOK_SECRET" in response.json()["error"]["message"]
    assert SECRET not in response.text
    _nothing_stored(hooks)


def test_a_signed_body_changed_in_transit_is_refused(hooks: Hooks) -> None:
    body = json.dumps(PING).encode()
    response = hooks.post("ping", body=body + b" ", signature=sign(body))
    assert response.status_code == 401
    _nothing_stored(hooks)


def test_a_replayed_delivery_is_answered_without_being_stored_or_run_again(
    hooks: Hooks,
) -> None:
    first = hooks.post("ping", PING, guid="guid-replayed")
    assert first.status_code == 202
    assert len(hooks.process()) == 1
    again = hooks.post("ping", PING, guid="guid-replayed")
    assert again.status_code == 200, again.text
    assert again.json() == {"delivery_id": first.json()["delivery_id"], "duplicate": True}
    (row,) = hooks.deliveries()
    assert (row["replays"], row["outcome"]) == (1, "ignored")
    assert hooks.process() == []  # nothing queued for the replay
    assert len(hooks.tasks(WEBHOOK_TASK)) == 1


def test_a_replay_before_processing_queues_nothing_more(hooks: Hooks) -> None:
    for _ in range(3):
        assert hooks.post("ping", PING, guid="guid-fast").status_code in (200, 202)
    assert len(hooks.tasks(WEBHOOK_TASK)) == 1
    assert len(hooks.process()) == 1


def test_an_oversized_delivery_is_refused_before_it_is_read(hooks: Hooks) -> None:
    payload = {"padding": "x" * MAX_BODY}
    response = hooks.post("push", payload)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    _nothing_stored(hooks)


def test_an_oversized_chunked_delivery_is_cut_off(hooks: Hooks) -> None:
    """No Content-Length: the body is counted as it streams in."""
    body = json.dumps({"padding": "x" * MAX_BODY}).encode()

    def chunks() -> Iterator[bytes]:
        size = 16 << 10
        for start in range(0, len(body), size):
            yield body[start : start + size]

    headers = {
        "x-github-event": "push",
        "x-github-delivery": "guid-chunked",
        "x-hub-signature-256": sign(body),
        "content-type": "application/json",
    }
    with hooks.api.client(role=None) as http:
        response = http.post(HOOK_PATH, content=chunks(), headers=headers)
    assert response.status_code == 413
    _nothing_stored(hooks)


def test_a_delivery_just_under_the_limit_is_accepted(hooks: Hooks) -> None:
    filler = MAX_BODY - len(json.dumps({"padding": ""}))
    response = hooks.post("ping", {"padding": "x" * filler})
    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe{}", "not JSON"),
        (b"payload=%7B%7D", "application/json"),
        (b"[1, 2]", "not an object"),
        (b"", "not JSON"),
    ],
    ids=["broken", "not-utf8", "form-encoded", "array", "empty"],
)
def test_a_signed_delivery_that_is_not_a_json_object_is_refused(
    hooks: Hooks, body: bytes, why: str
) -> None:
    response = hooks.post("ping", body=body)
    assert response.status_code == 400, response.text
    assert why in response.json()["error"]["message"]
    _nothing_stored(hooks)


@pytest.mark.parametrize(
    "headers",
    [
        {"x-github-event": ""},
        {"x-github-delivery": ""},
        {"x-github-delivery": "../../etc/passwd"},
        {"x-github-event": "Pull Request"},
    ],
    ids=["no-event", "no-guid", "path-guid", "bad-event"],
)
def test_a_delivery_without_its_github_headers_is_refused(
    hooks: Hooks, headers: dict[str, str]
) -> None:
    response = hooks.post("ping", PING, headers=headers)
    assert response.status_code == 400, response.text
    _nothing_stored(hooks)


def test_without_a_secret_every_delivery_is_refused(make_hooks: Callable[..., Hooks]) -> None:
    hooks = make_hooks(github_webhook_secret=None)
    response = hooks.post("ping", PING)
    assert response.status_code == 503
    assert "SHOAL_GITHUB_WEBHOOK_SECRET" in response.json()["error"]["message"]
    _nothing_stored(hooks)


def test_other_routes_still_need_a_token(hooks: Hooks) -> None:
    """Only the webhook route trades the API token for a signature."""
    with hooks.api.client(role=None) as http:
        response = http.post("/campaigns/apply", json={"spec": "name: x"})
    assert response.status_code == 401


def test_a_large_payload_goes_to_object_storage(make_hooks: Callable[..., Hooks]) -> None:
    hooks = make_hooks(github_webhook_inline_payload_bytes=1024)
    payload = {"zen": "z" * 4000}
    assert hooks.post("ping", payload, guid="guid-large").status_code == 202
    (row,) = hooks.deliveries()
    assert row["payload"] is None
    assert row["payload_key"] == "webhooks/guid-large.json"
    assert json.loads(hooks.api.ctx.blobs.get_bytes(row["payload_key"])) == payload
    assert [o.kind.value for o in hooks.process()] == ["done"]
    assert hooks.deliveries()[0]["outcome"] == "ignored"


def test_the_answer_comes_fast(hooks: Hooks) -> None:
    response = hooks.post("ping", PING)
    assert response.status_code == 202
    assert response.elapsed.total_seconds() < 1.0
