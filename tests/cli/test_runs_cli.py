"""`shoal preview`, `shoal runs cancel`, the list commands' paging, `shoal login` and the
client's errors, run in-process (typer's CliRunner) against a real API server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner, Result

from shoal.cli.main import app
from shoal.domain.auth import Role
from shoal.runtime.workers import start_worker_thread
from tests.servers import RunningApi, api_settings, free_port, running_api

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bump-checkout-v4.yaml"


@pytest.fixture(autouse=True)
def _quiet_server_logs() -> Iterator[None]:
    # The API server runs in this process: its log lines must not land in the command's
    # captured stdout, which these tests parse.
    with structlog.testing.capture_logs():
        yield


@pytest.fixture
def api(db_url: str, redis_url: str, tmp_path: Path) -> Iterator[RunningApi]:
    # No GitHub App is configured: a worker fails selection at once, with the reason.
    settings = api_settings(db_url, redis_url, data_dir=tmp_path / "data", task_poll_s=0.1)
    with running_api(settings) as running:
        yield running


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    # Every SHOAL_* variable the developer may have set is masked (None unsets it).
    return {
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "SHOAL_URL": None,  # type: ignore[dict-item]
        "SHOAL_TOKEN": None,  # type: ignore[dict-item]
    }


def run(env: dict[str, str], *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env, input=input, catch_exceptions=False)


def as_user(api: RunningApi, env: dict[str, str], role: Role = Role.OPERATOR) -> dict[str, str]:
    return env | {"SHOAL_URL": api.url, "SHOAL_TOKEN": api.tokens[role]}


def start_preview(api: RunningApi) -> int:
    with api.client() as http:
        assert http.post("/campaigns/apply", json={"spec": EXAMPLE.read_text()}).status_code == 200
        response = http.post("/campaigns/bump-checkout-v4/runs", json={"kind": "preview"})
    assert response.status_code == 202, response.text
    return int(response.json()["id"])


# --- shoal preview: exit codes -------------------------------------------------------------


def test_preview_of_a_failed_run_exits_1_with_the_reason_on_stderr(
    api: RunningApi, env: dict[str, str]
) -> None:
    stop = threading.Event()
    worker = start_worker_thread(api.ctx, stop)
    try:
        result = run(as_user(api, env), "preview", str(EXAMPLE))
        as_json = run(as_user(api, env), "preview", "bump-checkout-v4", "-o", "json")
    finally:
        stop.set()
        worker.join(timeout=30)
    assert result.exit_code == 1, result.output
    assert "run 1 failed: selection failed:" in result.stderr
    assert "shoal runs show 1" in result.stderr
    assert "run 1 failed" in result.stdout  # the summary, on stdout
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["state"] == "failed"
    assert "run 2 failed: selection failed:" in as_json.stderr


def test_preview_without_wait_exits_0(api: RunningApi, env: dict[str, str]) -> None:
    result = run(as_user(api, env), "preview", str(EXAMPLE), "--no-wait")
    assert result.exit_code == 0, result.output
    assert "run 1 started" in result.stdout


def test_ctrl_c_says_the_run_goes_on_and_exits_130(
    api: RunningApi, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(_: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("shoal.cli.remote.runs.time.sleep", interrupt)
    result = run(as_user(api, env), "preview", str(EXAMPLE))
    assert result.exit_code == 130, result.output
    assert "run 1 goes on running on the server" in result.stderr
    assert "shoal runs show 1" in result.stderr
    assert "shoal runs cancel 1" in result.stderr
    with api.client() as http:
        assert http.get("/runs/1").json()["state"] == "selecting"


# --- shoal runs cancel -----------------------------------------------------------------


def test_cancel_is_idempotent_audited_and_refused_for_a_viewer(
    api: RunningApi, env: dict[str, str]
) -> None:
    run_id = start_preview(api)
    viewer = run(as_user(api, env, Role.VIEWER), "runs", "cancel", str(run_id))
    first = run(as_user(api, env), "runs", "cancel", str(run_id))
    again = run(as_user(api, env), "runs", "cancel", str(run_id), "-o", "json")
    missing = run(as_user(api, env), "runs", "cancel", "99")
    shown = run(as_user(api, env), "runs", "show", str(run_id), "-o", "json")
    events = run(as_user(api, env), "audit", "list", "--action", "run.cancel", "-o", "json")

    assert viewer.exit_code == 1 and "operator" in viewer.stderr
    assert first.exit_code == 0, first.output
    assert f"run {run_id} cancelled" in first.stdout
    assert again.exit_code == 0
    assert json.loads(again.stdout)["changed"] is False
    assert json.loads(again.stdout)["run"]["state"] == "cancelled"
    assert missing.exit_code == 1 and "run 99 does not exist" in missing.stderr
    assert json.loads(shown.stdout)["run"]["state"] == "cancelled"
    audited = json.loads(events.stdout)
    assert [(e["target"], e["actor"]) for e in audited] == [
        (f"run:{run_id}", "token:test-operator")
    ]


def test_a_finished_run_cannot_be_cancelled(api: RunningApi, env: dict[str, str]) -> None:
    stop = threading.Event()
    worker = start_worker_thread(api.ctx, stop)
    try:
        assert run(as_user(api, env), "preview", str(EXAMPLE)).exit_code == 1  # failed
    finally:
        stop.set()
        worker.join(timeout=30)
    refused = run(as_user(api, env), "runs", "cancel", "1")
    with api.client(Role.OPERATOR) as http:
        response = http.post("/runs/1/cancel")
    assert refused.exit_code == 1
    assert "run 1 already finished (failed); there is nothing to cancel" in refused.stderr
    assert response.status_code == 409
    assert response.json()["error"]["details"] == {"run": 1, "state": "failed"}


# --- paging ------------------------------------------------------------------------------


def test_audit_list_says_it_is_cut_and_pages_to_the_end(
    api: RunningApi, env: dict[str, str]
) -> None:
    user = as_user(api, env)
    with api.client() as http:
        for n in range(5):
            http.post("/campaigns", json={"name": f"c{n}", "description": ""})
        everything = http.get("/audit", params={"limit": 1000}).json()
    total = len(everything)  # 3 tokens minted, 5 campaigns created
    assert total == 8

    first = run(user, "audit", "list", "--limit", "3")
    assert first.exit_code == 0
    third_id = everything[2]["id"]
    assert f"showing 3 of {total}; next: shoal audit list --limit 3 --after {third_id}" in (
        first.stdout
    )
    seen: list[int] = []
    after: int | None = None
    while True:
        args = ["audit", "list", "--limit", "3", "-o", "json"]
        if after is not None:
            args += ["--after", str(after)]
        page = run(user, *args)
        assert page.exit_code == 0
        seen += [e["id"] for e in json.loads(page.stdout)]  # stdout stays pure JSON
        if "next:" not in page.stderr:
            break
        after = int(page.stderr.rsplit("--after", 1)[1])
    assert seen == [e["id"] for e in everything]
    last = run(user, "audit", "list", "--after", str(seen[-2]))
    assert "showing" not in last.output


def test_audit_api_sends_the_total_and_a_next_link(api: RunningApi) -> None:
    with api.client() as http:
        for n in range(3):
            http.post("/campaigns", json={"name": f"c{n}", "description": ""})
        page = http.get("/audit", params={"limit": 2, "action": "campaign.create"})
        rest = http.get(page.links["next"]["url"])
    assert page.status_code == 200 and isinstance(page.json(), list)
    assert page.headers["x-total-count"] == "3"
    assert len(page.json()) == 2
    assert rest.headers["x-total-count"] == "3"
    assert len(rest.json()) == 1
    assert "link" not in rest.headers
    assert {e["id"] for e in page.json()}.isdisjoint({e["id"] for e in rest.json()})


def test_runs_list_pages_newest_first(api: RunningApi, env: dict[str, str]) -> None:
    ids = [start_preview(api) for _ in range(3)]
    with api.client() as http:
        page = http.get("/campaigns/bump-checkout-v4/runs", params={"limit": 2})
        rest = http.get(page.links["next"]["url"])
    listed = run(as_user(api, env), "runs", "list", "bump-checkout-v4", "--limit", "2")

    assert [r["id"] for r in page.json()] == ids[:0:-1]
    assert page.headers["x-total-count"] == "3"
    assert [r["id"] for r in rest.json()] == [ids[0]] and "link" not in rest.headers
    assert listed.exit_code == 0
    assert (
        f"showing 2 of 3; next: shoal runs list bump-checkout-v4 --limit 2 --before {ids[1]}"
        in listed.stdout
    )


def test_campaigns_and_tasks_lists_say_when_more_match(
    api: RunningApi, env: dict[str, str]
) -> None:
    user = as_user(api, env)
    with api.client() as http:
        for n in range(3):
            http.post("/campaigns", json={"name": f"c{n}", "description": ""})
        second = http.get("/campaigns", params={"limit": 2}).json()[1]["id"]
    cut = run(user, "campaigns", "list", "--limit", "2")
    whole = run(user, "campaigns", "list", "--limit", "3")
    start_preview(api)
    start_preview(api)
    tasks = run(user, "tasks", "list", "--limit", "1")

    assert cut.exit_code == 0
    assert f"showing 2, more match; next: shoal campaigns list --limit 2 --after {second}" in (
        cut.stdout
    )
    assert "c2" not in cut.stdout
    assert "showing" not in whole.stdout and "c2" in whole.stdout
    assert tasks.exit_code == 0
    assert "showing 1, more match; next: shoal tasks list --limit 1 --after" in tasks.stdout


# --- shoal login and the client's errors ---------------------------------------------------


def test_login_help_does_not_call_the_token_required(env: dict[str, str]) -> None:
    result = run(env | {"COLUMNS": "100"}, "login", "--help")
    token_help = result.stdout[result.stdout.index("--token") : result.stdout.index("--help")]
    assert result.exit_code == 0
    assert result.stdout.count("[required]") == 1  # --url's
    assert "[required]" not in token_help and "SHOAL_TOKEN" in token_help


def test_login_asks_for_the_token_when_left_out(api: RunningApi, env: dict[str, str]) -> None:
    result = run(env, "login", "--url", api.url, input=api.tokens[Role.VIEWER] + "\n")
    assert result.exit_code == 0, result.output
    assert f"Logged in to {api.url}" in result.stdout
    assert api.tokens[Role.VIEWER] not in result.output


def test_login_adds_a_missing_scheme_and_drops_api_v1(
    api: RunningApi, env: dict[str, str], tmp_path: Path
) -> None:
    bare = api.url.removeprefix("http://")
    token = api.tokens[Role.VIEWER]
    no_scheme = run(env, "login", "--url", bare, "--token", token)
    stored_bare = json.loads((tmp_path / "config" / "shoal" / "cli.json").read_text())["url"]
    with_path = run(env, "login", "--url", f"{api.url}/api/v1/", "--token", token)
    stored_path = json.loads((tmp_path / "config" / "shoal" / "cli.json").read_text())["url"]
    listed = run(env, "campaigns", "list")

    assert no_scheme.exit_code == 0, no_scheme.output
    assert f"no scheme given: using {api.url}" in no_scheme.stderr
    assert stored_bare == api.url
    assert with_path.exit_code == 0, with_path.output
    assert f"the client adds /api/v1 itself: using {api.url}" in with_path.stderr
    assert stored_path == api.url
    assert listed.exit_code == 0


def test_login_refuses_what_is_not_an_http_url(env: dict[str, str]) -> None:
    result = run(env, "login", "--url", "ftp://example.org", "--token", "x")
    assert result.exit_code == 1
    assert "is not an http(s) URL of a Shoal server" in result.stderr


def test_login_to_a_server_without_the_api_says_so(api: RunningApi, env: dict[str, str]) -> None:
    result = run(env, "login", "--url", f"{api.url}/elsewhere", "--token", "x")
    assert result.exit_code == 1
    assert f"{api.url}/elsewhere has no Shoal API at /api/v1 (404)" in result.stderr


def test_a_rejected_token_recommends_the_prompt_not_the_command_line(
    api: RunningApi, env: dict[str, str]
) -> None:
    user = env | {"SHOAL_URL": api.url, "SHOAL_TOKEN": "shoal_not-a-token"}
    result = run(user, "campaigns", "list")
    login = run(env, "login", "--url", api.url, "--token", "shoal_not-a-token")
    assert result.exit_code == 1 and login.exit_code == 1
    for stderr in (result.stderr, login.stderr):
        assert "SHOAL_TOKEN" in stderr and "paste the token when asked" in stderr
        assert "--token" not in stderr


def test_connection_errors_name_the_url_without_credentials(env: dict[str, str]) -> None:
    port = free_port()
    user = env | {"SHOAL_URL": f"http://alice:hunter2@127.0.0.1:{port}", "SHOAL_TOKEN": "t"}
    result = run(user, "campaigns", "list")
    assert result.exit_code == 1
    assert f"cannot reach the Shoal API at http://127.0.0.1:{port}" in result.stderr
    assert "hunter2" not in result.output and "alice" not in result.output


def test_an_answer_that_is_not_shoals_names_the_url(api: RunningApi, env: dict[str, str]) -> None:
    # A URL with a path the server does not have: every route 404s.
    user = env | {"SHOAL_URL": f"{api.url}/x", "SHOAL_TOKEN": api.tokens[Role.VIEWER]}
    result = run(user, "campaigns", "list")
    assert result.exit_code == 1
    assert f"{api.url}/x answered 404 to GET /x/api/v1/campaigns: no such API route" in (
        result.stderr
    )
    assert "is this the base URL of a Shoal server" in result.stderr
