"""Who may review and be assigned, as seeded: a team's ``"*"`` repositories, the org's base
permission, and the demo story of examples/sim-acme.yaml with examples/bump-checkout-v4.yaml
(every repository of both orgs takes the example's labels, reviewers and assignees)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pydantic import ValidationError

from shoal_sim.config import RateLimitConfig, SimConfig
from shoal_sim.seed import SeedDocument, apply_seed, load_seed_file
from shoal_sim.simulator import Simulator
from shoal_sim.state.models import Permission
from tests.sim.conftest import RunningSim

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
REVIEWER_REFUSED = "Reviews may only be requested from collaborators"


def _open_pull(sim: RunningSim, client: httpx.Client, owner: str, repo: str) -> int:
    sim.admin.push_commit(owner, repo, {"CHANGE.md": "x\n"}, branch="campaign")
    base = client.get(f"/repos/{owner}/{repo}").json()["default_branch"]
    created = client.post(
        f"/repos/{owner}/{repo}/pulls",
        json={"title": "t", "body": "b", "head": "campaign", "base": base, "draft": False},
    )
    assert created.status_code == 201, created.text
    return int(created.json()["number"])


def _ask(
    client: httpx.Client, owner: str, repo: str, number: int, users: list[str], teams: list[str]
) -> httpx.Response:
    return client.post(
        f"/repos/{owner}/{repo}/pulls/{number}/requested_reviewers",
        json={"reviewers": users, "team_reviewers": teams},
    )


def _world(**org: Any) -> dict[str, Any]:
    return {
        "users": [{"login": "alice"}, {"login": "carol"}],
        "orgs": [
            {
                "login": "acme",
                "members": {"alice": "admin", "carol": "member"},
                "repos": [{"name": n, "files": {"README.md": n}} for n in ("one", "two", "three")],
                **org,
            }
        ],
        "apps": [
            {
                "slug": "shoal",
                "permissions": {
                    "contents": "write",
                    "pull_requests": "write",
                    "issues": "write",
                    "metadata": "read",
                },
                "installations": [{"org": "acme"}],
            }
        ],
    }


def test_team_star_reaches_every_repository_and_names_override_it(
    make_sim: Callable[..., RunningSim],
) -> None:
    team = {"slug": "platform", "members": ["alice"], "repos": {"*": "write", "two": "maintain"}}
    sim = make_sim(_world(teams=[team]))
    with sim.http(sim.installation_token()) as client:
        permissions = {}
        for repo in ("one", "two", "three"):
            number = _open_pull(sim, client, "acme", repo)
            asked = _ask(client, "acme", repo, number, [], ["platform"])
            assert asked.status_code == 201, asked.text
            [requested] = asked.json()["requested_teams"]
            permissions[repo] = requested["permission"]
    assert permissions["two"] == "maintain"
    assert permissions["one"] == permissions["three"] != "maintain"
    assert permissions["one"] in {"write", "push"}


def test_scenario_api_team_star_covers_repositories_existing_then(
    make_sim: Callable[..., RunningSim],
) -> None:
    sim = make_sim(_world())
    sim.admin.create_team("acme", "late", repos={"*": "triage"})
    sim.admin.create_repo("acme", "four", files={"README.md": "four"})
    with sim.http(sim.installation_token()) as client:
        early = _open_pull(sim, client, "acme", "one")
        later = _open_pull(sim, client, "acme", "four")
        assert _ask(client, "acme", "one", early, [], ["late"]).status_code == 201
        refused = _ask(client, "acme", "four", later, [], ["late"])
    assert refused.status_code == 422
    assert REVIEWER_REFUSED in refused.json()["message"]


@pytest.mark.parametrize(
    ("base", "carol_may_review", "carol_assignable"),
    [("none", False, False), ("read", True, False), ("write", True, True)],
)
def test_org_base_permission_decides_for_members(
    make_sim: Callable[..., RunningSim], base: str, carol_may_review: bool, carol_assignable: bool
) -> None:
    sim = make_sim(_world(default_repository_permission=base))
    with sim.http(sim.installation_token()) as client:
        number = _open_pull(sim, client, "acme", "one")
        asked = _ask(client, "acme", "one", number, ["carol"], [])
        assigned = client.post(
            f"/repos/acme/one/issues/{number}/assignees", json={"assignees": ["carol", "alice"]}
        )
    assert asked.status_code == (201 if carol_may_review else 422), asked.text
    assert assigned.status_code == 201, assigned.text
    expected = ["carol", "alice"] if carol_assignable else ["alice"]
    assert sorted(a["login"] for a in assigned.json()["assignees"]) == sorted(expected)


def test_seed_refuses_unknown_permissions() -> None:
    with pytest.raises(ValidationError, match="repos"):
        SeedDocument.model_validate(
            {"orgs": [{"login": "acme", "teams": [{"slug": "t", "repos": {"*": "owner"}}]}]}
        )
    with pytest.raises(ValidationError, match="default_repository_permission"):
        SeedDocument.model_validate(
            {"orgs": [{"login": "acme", "default_repository_permission": "maintain"}]}
        )


def _small_example_world() -> dict[str, Any]:
    """examples/sim-acme.yaml with a few generated repositories, so that each can get a
    pull request quickly (the full seed is checked in test_example_teams_reach_everything)."""
    document = yaml.safe_load((EXAMPLES / "sim-acme.yaml").read_text())
    for org in document["orgs"]:
        for block in org.get("generate", []):
            block["count"] = 2
    return dict(document)


def test_example_campaign_people_are_valid_in_every_repository(
    make_sim: Callable[..., RunningSim],
) -> None:
    changeset = yaml.safe_load((EXAMPLES / "bump-checkout-v4.yaml").read_text())["changeset"]
    assert changeset["assignees"] and changeset["labels"] and changeset["draft"] is False
    sim = make_sim(_small_example_world(), limits=RateLimitConfig(secondary_enabled=False))
    checked: dict[str, int] = {}
    for owner in ("acme", "globex"):
        # Shoal asks only the teams of the repository's own org.
        users = [r for r in changeset["reviewers"] if "/" not in r]
        teams = [r.split("/")[1] for r in changeset["reviewers"] if r.startswith(f"{owner}/")]
        assert users and teams, f"the example names no user or no {owner} team to review"
        repos = [r for r in sim.sim.world.repos_of(owner) if not r.archived]
        with sim.http(sim.installation_token(owner)) as client:
            for repo in repos:
                number = _open_pull(sim, client, owner, repo.name)
                issue = f"/repos/{owner}/{repo.name}/issues/{number}"
                labeled = client.post(f"{issue}/labels", json={"labels": changeset["labels"]})
                assert labeled.status_code == 200, labeled.text
                assert sorted(lb["name"] for lb in labeled.json()) == sorted(changeset["labels"])
                asked = _ask(client, owner, repo.name, number, users, teams)
                assert asked.status_code == 201, f"{repo.full_name}: {asked.text}"
                pull = asked.json()
                assert sorted(u["login"] for u in pull["requested_reviewers"]) == sorted(users)
                assert sorted(t["slug"] for t in pull["requested_teams"]) == sorted(teams)
                assert pull["draft"] is False
                assigned = client.post(
                    f"{issue}/assignees", json={"assignees": changeset["assignees"]}
                )
                assert assigned.status_code == 201, assigned.text
                assert sorted(a["login"] for a in assigned.json()["assignees"]) == sorted(
                    changeset["assignees"]
                ), repo.full_name
        checked[owner] = len(repos)
    assert checked == {"acme": 3 + 2, "globex": 1 + 2}


def test_example_teams_reach_everything(tmp_path: Path) -> None:
    """In the full example seed, each org's platform team reaches every repository and the
    example's people belong to both orgs."""
    sim = Simulator(SimConfig(tmp_path / "sim"))
    apply_seed(sim, load_seed_file(EXAMPLES / "sim-acme.yaml"))
    world = sim.world
    for owner in ("acme", "globex"):
        org = world.get_org(owner)
        assert org.members.get("alice") == "admin"
        assert org.members.get("carol") == "member"
        assert org.default_repository_permission == Permission.READ
        team = world.find_team(owner, "platform")
        assert team is not None and "carol" in team.members
        repos = world.repos_of(owner)
        assert len(repos) > 50
        assert set(team.repos) == {r.id for r in repos}
        assert min(team.repos.values()) >= Permission.WRITE
