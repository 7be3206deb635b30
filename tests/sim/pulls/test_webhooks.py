"""The engine's events become webhooks whose payloads match GitHub's webhook schemas
(@octokit/openapi-webhooks): the bodies are the pull-request feature's own."""

from __future__ import annotations

from tests.sim.conftest import RunningSim
from tests.sim.pulls.conftest import branch
from tests.sim.webhooks.receiver import Receiver
from tests.sim.webhooks.schemas import WebhookConformance

EVENTS = ["pull_request", "pull_request_review", "check_run", "check_suite", "status", "push"]


def test_pull_request_flow_webhooks_match_githubs_schemas(psim: RunningSim) -> None:
    check = WebhookConformance("api.github.com")
    psim.sim.webhooks.observers.append(check)
    receiver = Receiver().start()
    try:
        psim.admin.set_webhook(psim.app()["id"], receiver.url, secret="s", events=EVENTS)
        head = branch(psim, "widgets", "hooks", {"h.txt": "1\n"})
        with psim.http(psim.installation_token()) as http:
            created = http.post(
                "/repos/acme/widgets/pulls",
                json={"title": "Hooks", "head": "hooks", "base": "main"},
            )
            number = created.json()["number"]
            http.post(f"/repos/acme/widgets/issues/{number}/labels", json={"labels": ["x"]})
            http.post(
                f"/repos/acme/widgets/pulls/{number}/requested_reviewers",
                json={"reviewers": ["dave"], "team_reviewers": ["core"]},
            )
            http.post(
                f"/repos/acme/widgets/issues/{number}/assignees", json={"assignees": ["dave"]}
            )
            head = branch(psim, "widgets", "hooks", {"h.txt": "2\n"})
            psim.admin.approve_pull("acme", "widgets", number, "dave")
            psim.admin.set_status("acme", "widgets", head, "success", "ci/test")
            run = psim.admin.set_check_run("acme", "widgets", head, "build", app="shoal")
            psim.admin.update_check_run("acme", "widgets", run["id"], conclusion="success")
            merged = http.put(f"/repos/acme/widgets/pulls/{number}/merge", json={"sha": head})
            assert merged.status_code == 200, merged.text
        assert psim.admin.wait_for_webhooks()
        actions = [
            (r.event, r.payload.get("action")) for r in receiver.requests if r.event != "push"
        ]
        for expected in [
            ("pull_request", "opened"),
            ("pull_request", "labeled"),
            ("pull_request", "review_requested"),
            ("pull_request", "assigned"),
            ("pull_request", "synchronize"),
            ("pull_request_review", "submitted"),
            ("status", None),
            ("check_run", "created"),
            ("check_run", "completed"),
            ("check_suite", "completed"),
            ("pull_request", "closed"),
        ]:
            assert expected in actions
        closed = [r for r in receiver.of("pull_request") if r.payload["action"] == "closed"]
        assert closed[0].payload["pull_request"]["merged"] is True
    finally:
        receiver.stop()
    assert not check.violations, "\n".join(check.violations)
