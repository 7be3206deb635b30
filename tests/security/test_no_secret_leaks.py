"""No secret in a log, URL, error message, metric, audit event or stored row: a whole flow
(an admin mints an API token, sets a step secret and grants it, previews and publishes a
campaign whose step uses it, the simulator delivers signed webhooks to Shoal, bad requests
are refused) runs with known secret values, then every log line captured from the API, the
worker and the simulator, the metrics, the audit export, the execution's log, every
PostgreSQL row, every Redis value and every trace span are searched for each of them. The
spans also show the trace connected from the API request through its tasks to GitHub."""

# ruff: noqa: F811 (the end-to-end fixtures are imported, then named as test arguments)
from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr

from shoal.config import Settings
from shoal.crypto import load_keyring, setting_context
from shoal.github.auth import TokenCache
from shoal.observability import tracing
from shoal.store.tables import metadata
from tests.e2e.conftest import (  # noqa: F401 (fixtures the end-to-end stack is built from)
    Stack,
    app_keys,
    make_sim,
    make_stack,
    octokit_schemas,
    work_dir,
)
from tests.e2e.publishing import FAST, publish, settled
from tests.webhooks.conftest import sign

STEP_SECRET = "stepSecret/Known+4242"
WEBHOOK_SECRET = "webhookSecret-Known-7373"
EVENTS = ["push", "pull_request"]

WORLD: dict[str, Any] = {
    "orgs": [{"login": "acme", "repos": [{"name": "svc", "files": {"README.md": "# svc\n"}}]}],
    "apps": [
        {
            "slug": "shoal",
            "permissions": {"contents": "write", "pull_requests": "write", "metadata": "read"},
            "events": EVENTS,
            "installations": [{"org": "acme"}],
        }
    ],
}

SPEC = """\
name: leak-check
on:
  - org: acme
steps:
  - name: use
    secrets: [STEP_TOKEN]
    run: |
      echo "token is $STEP_TOKEN"
      echo "length ${#STEP_TOKEN}" >> README.md
changeset:
  title: "leak-check: edit"
"""


def _forms(value: str) -> list[str]:
    return [value, base64.b64encode(value.encode()).decode(), value.encode().hex()]


def _postgres_text(stack: Stack) -> str:
    """Every row of every table, as text."""
    out = []
    with stack.api.ctx.db.transaction() as conn:
        for table in metadata.sorted_tables:
            # Table names of Shoal's own schema, not input.
            query = f"SELECT t::text FROM {table.name} t"  # noqa: S608
            rows = conn.exec_driver_sql(query).scalars()
            out.extend(rows)
    return "\n".join(out)


def _redis_bytes(stack: Stack) -> bytes:
    client = stack.api.ctx.redis
    out = []
    for key in client.scan_iter("*"):
        out.append(key)
        out.append(client.dump(key) or b"")  # every type, as Redis stores it
    return b"\n".join(out)


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Every span the API and the workers of this process record, kept in memory."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "provider", provider)
    yield exporter
    provider.shutdown()


def _attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def _assert_connected_trace(finished: list[ReadableSpan], run_id: int) -> None:
    """The preview's POST, its selection task, that task's GitHub calls and the execution
    task it queued share one trace, each span a child of the one before."""
    by_id = {span.context.span_id: span for span in finished}
    (request,) = [s for s in finished if s.name == "POST /api/v1/campaigns/{campaign}/runs"]
    assert _attributes(request)["run_id"] == run_id
    assert isinstance(_attributes(request)["campaign_id"], int)
    trace_id = request.context.trace_id
    in_trace = [s for s in finished if s.context.trace_id == trace_id]

    def parent_of(span: ReadableSpan) -> ReadableSpan:
        assert span.parent is not None, span.name
        return by_id[span.parent.span_id]

    (select,) = [s for s in in_trace if s.name == "task run.select"]
    assert parent_of(select) is request
    assert {"task_id", "run_id", "campaign_id"} <= set(_attributes(select))
    calls = [s for s in in_trace if s.name.startswith("GitHub ") and parent_of(s) is select]
    assert calls, [s.name for s in in_trace]
    executions = [s for s in in_trace if s.name == "execution"]
    assert executions, [s.name for s in in_trace]
    execution = _attributes(executions[0])
    assert execution["repo"] == "acme/svc" and execution["run_id"] == run_id
    task = parent_of(executions[0])
    assert task.name == "task execution.run" and "task_id" in _attributes(task)
    assert parent_of(task) is select  # queued by the selection, in its trace
    archive = [
        s for s in in_trace if s.name.startswith("GitHub ") and parent_of(s) is executions[0]
    ]
    assert archive, "the execution's tarball download is a child of the execution"


def _span_text(finished: list[ReadableSpan]) -> str:
    return "\n".join(
        f"{span.name} {json.dumps(_attributes(span), default=str)}" for span in finished
    )


def test_a_whole_flow_leaves_no_secret_anywhere(
    make_stack: Callable[..., Stack],
    capfd: pytest.CaptureFixture[str],
    spans: InMemorySpanExporter,
) -> None:
    keyring = load_keyring(Settings())
    sealed_hook = keyring.seal(WEBHOOK_SECRET, context=setting_context("github_webhook_secret"))
    stack = make_stack(WORLD, github_webhook_secret=SecretStr(sealed_hook), **FAST)
    app = stack.sim.app()
    stack.sim.admin.set_webhook(
        app["id"], f"{stack.api.url}/api/v1/github/webhooks", secret=WEBHOOK_SECRET, events=EVENTS
    )

    with stack.api.client() as bootstrap:
        minted = bootstrap.post("/tokens", json={"name": "leak-check", "role": "admin"})
    assert minted.status_code == 201
    api_token = minted.json()["secret"]
    base = f"{stack.api.url}/api/v1"
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {api_token}"}) as http:
        assert http.put("/secrets/STEP_TOKEN", json={"value": STEP_SECRET}).status_code == 200
        assert http.put("/secrets/STEP_TOKEN/grants/org/acme").status_code == 200
        assert http.post("/campaigns/apply", json={"spec": SPEC}).status_code == 200
    done = stack.preview(SPEC)
    assert done["state"] == "done", done
    execution = stack.executions(done["id"])["acme/svc"]
    assert execution["state"] == "patch", execution
    publish(stack, "leak-check")
    found = settled(stack, "leak-check")
    assert found["acme/svc"]["state"] == "open", found
    assert stack.sim.admin.wait_for_webhooks(30)
    attempts = stack.sim.admin.webhook_deliveries()
    assert attempts and {a["status_code"] for a in attempts} == {202}, attempts

    # The installation token the worker used, read back from its sealed cache entry.
    (key,) = [k.decode() for k in stack.api.ctx.redis.keys("shoal:gh:token:*") if b":lock" not in k]
    sealed = stack.api.ctx.redis.hget(key, "sealed")
    assert sealed is not None
    installation_token = keyring.open(sealed.decode(), context=TokenCache.context(key))
    assert installation_token.startswith("ghs_")

    # Refusals, whose messages must not echo what they refuse.
    hook = f"{base}/github/webhooks"
    body = json.dumps({"zen": "x", "hook_id": 1}).encode()
    headers = {"X-GitHub-Event": "ping", "Content-Type": "application/json"}
    for secret, expected in [(WEBHOOK_SECRET, 202), (sealed_hook, 401), ("wrong", 401)]:
        answer = httpx.post(
            hook,
            content=body,
            headers=headers
            | {"X-GitHub-Delivery": f"leak-{expected}-{secret[:3]}"}
            | {"X-Hub-Signature-256": sign(body, secret)},
        )
        assert answer.status_code == expected, answer.text
    for authorization in (f"Token {api_token}", f"Bearer {api_token}x", f"Bearer {STEP_SECRET}"):
        refused = httpx.get(f"{base}/campaigns", headers={"Authorization": authorization})
        assert refused.status_code == 401
        assert api_token not in refused.text and STEP_SECRET not in refused.text

    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {api_token}"}) as http:
        metrics = httpx.get(f"{stack.api.url}/metrics").text
        audit = http.get("/audit/export").text
        step_log = http.get(f"/runs/{done['id']}/executions/acme/svc/log").text
        listed = http.get("/secrets").text + http.get("/tokens").text
    assert "token is ***" in step_log  # the step did print it, masked
    captured = capfd.readouterr()
    logs = captured.out + captured.err
    assert logs.count("http_request") > 20, "the logs were not captured"
    assert "webhook_processed" in logs and "secret_value_set" in logs
    assert "shoal_" in metrics and len(metrics.splitlines()) > 50
    finished = list(spans.get_finished_spans())
    _assert_connected_trace(finished, done["id"])

    places = {
        "logs": logs,
        "metrics": metrics,
        "audit": audit,
        "step log": step_log,
        "API answers": listed,
        "postgres": _postgres_text(stack),
        "redis": _redis_bytes(stack).decode("latin-1"),
        "spans": _span_text(finished),
    }
    secrets = {
        "step secret": STEP_SECRET,
        "webhook secret": WEBHOOK_SECRET,
        "installation token": installation_token,
        "API token": api_token,
    }
    leaks = [
        f"{what} in {where}"
        for what, value in secrets.items()
        for form in _forms(value)
        for where, text in places.items()
        if form in text
    ]
    assert leaks == []
