"""Publishing end to end with real git pushes against the simulator: every template field,
idempotency, adoption, budgets, protection and permission failures, kill switch and pause."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.e2e.audit_match import assert_audit_matches_ledger
from tests.e2e.conftest import Stack
from tests.e2e.publishing import CREATE_PR, PUSH, publish, settled

WORKFLOW = "jobs:\n  b:\n    steps:\n      - uses: actions/checkout@v3\n"


def world(repos: int = 3, *, permissions: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "users": [{"login": "alice"}, {"login": "bob"}],
        "orgs": [
            {
                "login": "acme",
                "members": {"alice": "admin", "bob": "member"},
                "teams": [
                    {
                        "slug": "platform",
                        "members": ["alice"],
                        "repos": {f"svc-{n}": "write" for n in range(repos)},
                    }
                ],
                "repos": [
                    {
                        "name": f"svc-{n}",
                        "collaborators": {"bob": "write"},
                        "files": {".github/workflows/ci.yml": WORKFLOW, "README.md": f"# {n}\n"},
                    }
                    for n in range(repos)
                ],
            }
        ],
        "apps": [
            {
                "slug": "shoal",
                "permissions": permissions
                or {
                    "contents": "write",
                    "pull_requests": "write",
                    "issues": "write",
                    "workflows": "write",
                    "metadata": "read",
                    "members": "read",
                },
                "installations": [{"org": "acme"}],
            }
        ],
    }


SPEC = """\
name: bump
description: Move to checkout v4
on:
  - org: acme
steps:
  - name: bump
    run: sed -i 's/checkout@v3/checkout@v4/' .github/workflows/ci.yml
changeset:
  title: "ci: bump checkout in {{ repo.name }}"
  body: |
    Campaign **{{ campaign.name }}** (spec {{ spec.hash[:12] }}) changes
    {{ diff.files_changed }} file(s): {% for f in diff.files %}`{{ f.path }}` {% endfor %}
  labels: [dependencies, shoal]
  reviewers: [bob, acme/platform]
  assignees: [alice]
"""


def test_publish_opens_each_pr_once_with_every_template_field(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(world(), publish_label_color="#0E8A16")
    run = stack.preview(SPEC)
    assert run["progress"]["patch"] == 3
    assert stack.mutations() == []

    assert publish(stack, "bump")["changesets"] == 3
    settled(stack, "bump")
    status = stack.get("/campaigns/bump/status")
    assert status["counts"] == {"open": 3}, status
    assert status["orgs"][0] | {"day": "", "next_eta": None} == {
        "org": "acme",
        "day": "",
        "used": 3,
        "cap": 150,
        "left": 147,
        "waiting": 0,
        "next_eta": None,
    }

    with stack.sim.http(stack.sim.installation_token()) as gh:
        pulls = gh.get("/repos/acme/svc-1/pulls").json()
        assert len(pulls) == 1
        pr = gh.get(f"/repos/acme/svc-1/pulls/{pulls[0]['number']}").json()
        files = gh.get(f"/repos/acme/svc-1/pulls/{pr['number']}/files").json()
        commit = gh.get(f"/repos/acme/svc-1/commits/{pr['head']['sha']}").json()
    assert pr["title"] == "ci: bump checkout in svc-1"
    assert "Campaign **bump**" in pr["body"] and "`.github/workflows/ci.yml`" in pr["body"]
    assert "<!-- shoal: campaign=" in pr["body"]
    assert (pr["head"]["ref"], pr["base"]["ref"], pr["draft"]) == ("shoal/bump", "main", False)
    assert sorted(label["name"] for label in pr["labels"]) == ["dependencies", "shoal"], [
        (m["operation"], m["status"]) for m in stack.mutations()
    ]
    # created by Shoal where missing, in the configured color
    assert {label["color"] for label in pr["labels"]} == {"0e8a16"}
    assert [u["login"] for u in pr["requested_reviewers"]] == ["bob"]
    assert [t["slug"] for t in pr["requested_teams"]] == ["platform"]
    assert [u["login"] for u in pr["assignees"]] == ["alice"]
    assert [f["filename"] for f in files] == [".github/workflows/ci.yml"]
    assert "Shoal-Campaign: bump" in commit["commit"]["message"]

    ledger = assert_audit_matches_ledger(stack)
    pushes = [m for m in ledger if m["operation"] == PUSH]
    creates = [m for m in ledger if m["operation"] == CREATE_PR]
    assert len(pushes) == 3 and len(creates) == 3

    # Publishing again changes nothing on GitHub: same commit, PR already open and complete.
    publish(stack, "bump")
    settled(stack, "bump")
    again = stack.mutations()
    assert again == ledger, [(m["operation"], m["repo"]) for m in again[len(ledger) :]]
    assert_audit_matches_ledger(stack)
