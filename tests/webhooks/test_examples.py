"""Real payloads: every example of `@octokit/webhooks-examples` for the events Shoal handles
is delivered to the webhook route (signed, over HTTP) and processed, with a changeset in
place that the example concerns, so that the mapping runs in full."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shoal.domain.tasks import OutcomeKind
from shoal.services.webhook_events import HANDLED_EVENTS
from tests.webhooks.conftest import Hooks

EXAMPLES = (
    Path(__file__).resolve().parents[2]
    / ".cache/octokit/node_modules/@octokit/webhooks-examples/api.github.com/index.json"
)

# Actions that change nothing for Shoal: the mapping says so ("ignored") instead of acting.
IGNORED = {"repository": {"created", "edited", "privatized", "publicized"}}


@pytest.fixture(scope="module")
def examples(octokit_schemas: Path) -> dict[str, list[dict[str, Any]]]:
    """By event. `octokit_schemas` runs scripts/fetch-github-schemas.sh, which installs them."""
    assert EXAMPLES.exists(), f"{EXAMPLES} is missing: run scripts/fetch-github-schemas.sh"
    return {e["name"]: e["examples"] for e in json.loads(EXAMPLES.read_text())}


def _seed(hooks: Hooks, event: str, payload: dict[str, Any]) -> bool:
    """A changeset the example concerns; False when the example concerns none (a tag)."""
    repo = payload.get("repository", {}).get("full_name", "octo-org/none")
    if event in ("pull_request", "pull_request_review"):
        pull = payload["pull_request"]
        hooks.seed(repo, branch=pull["head"]["ref"], pr_number=pull["number"], pr_state="open")
    elif event == "push":
        if not payload["ref"].startswith("refs/heads/") or payload["deleted"]:
            return False
        hooks.seed(repo, base_branch=payload["ref"].removeprefix("refs/heads/"))
    elif event in ("check_suite", "check_run"):
        hooks.seed(repo, pr_number=1, head_sha=payload[event]["head_sha"])
    elif event == "status":
        hooks.seed(repo, pr_number=1, head_sha=payload["sha"])
    elif event == "installation":
        hooks.seed(installation_id=payload["installation"]["id"], pr_number=1)
    elif event == "installation_repositories":
        listed = payload["repositories_removed"] or payload["repositories_added"]
        hooks.seed(listed[0]["full_name"], pr_number=1, repo_github_id=listed[0]["id"])
    elif event == "repository":
        hooks.seed(repo, pr_number=1, repo_github_id=payload["repository"]["id"])
    return payload.get("action") not in IGNORED.get(event, set())


@pytest.mark.parametrize("event", sorted(HANDLED_EVENTS))
def test_every_example_is_accepted_and_processed(
    hooks: Hooks, examples: dict[str, list[dict[str, Any]]], event: str
) -> None:
    assert examples[event], f"no example of {event}"
    for n, payload in enumerate(examples[event]):
        acts = _seed(hooks, event, payload)
        response = hooks.post(event, payload, guid=f"{event}-{n}")
        assert response.status_code == 202, (n, response.text)
        outcomes = hooks.process()
        assert [o.kind for o in outcomes] == [OutcomeKind.DONE], (n, outcomes)
        row = hooks.deliveries()[-1]
        assert row["guid"] == f"{event}-{n}"
        assert row["event"] == event and row["action"] == payload.get("action")
        expected = "processed" if acts else "ignored"
        assert row["outcome"] == expected, (n, payload.get("action"), row["outcome_detail"])
        assert row["processed_at"] is not None
