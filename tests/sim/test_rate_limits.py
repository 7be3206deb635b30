"""Primary and secondary rate limits on a clock the tests move."""

from __future__ import annotations

from collections.abc import Callable

from shoal_sim.config import RateLimitConfig
from tests.sim.conftest import RunningSim

SMALL_WORLD = {
    "orgs": [{"login": "acme", "repos": [{"name": "one", "files": {"a.txt": "a\n"}}]}],
    "apps": [
        {
            "slug": "shoal",
            "permissions": {"contents": "write", "metadata": "read"},
            "installations": [{"org": "acme"}],
        }
    ],
}


def test_primary_limit_and_reset(make_sim: Callable[..., RunningSim]) -> None:
    sim = make_sim(SMALL_WORLD, limits=RateLimitConfig(installation_base=3, installation_cap=3))
    with sim.http(sim.installation_token()) as client:
        seen = [client.get("/repos/acme/one") for _ in range(4)]
        assert [r.status_code for r in seen] == [200, 200, 200, 403]
        refused = seen[-1]
        assert refused.headers["x-ratelimit-remaining"] == "0"
        assert refused.json()["message"].startswith(
            f"API rate limit exceeded for installation ID {sim.app()['installations']['acme']}."
        )
        assert client.get("/rate_limit").status_code == 200  # free, even when exhausted
    sim.admin.advance_clock(3601)
    with sim.http(sim.installation_token()) as client:
        again = client.get("/repos/acme/one")
    assert again.status_code == 200
    assert again.headers["x-ratelimit-remaining"] == "2"


def test_installation_limit_scales_with_repositories(sim: RunningSim) -> None:
    with sim.http(sim.installation_token()) as client:
        limit = client.get("/repos/acme/widgets").headers["x-ratelimit-limit"]
    assert limit == str(5000 + 50 * (44 - 20))


def test_secondary_points_per_minute(make_sim: Callable[..., RunningSim]) -> None:
    sim = make_sim(SMALL_WORLD, limits=RateLimitConfig(points_per_minute=5))
    with sim.http(sim.installation_token()) as client:
        codes = [client.get("/repos/acme/one").status_code for _ in range(6)]
        other = client.get("/repos/acme/one/branches")
        refused = client.get("/repos/acme/one")
        sim.admin.advance_clock(61)
        later = client.get("/repos/acme/one")
    assert codes == [200] * 5 + [403]
    assert other.status_code == 200  # the budget is per endpoint
    assert refused.json()["message"].startswith("You have exceeded a secondary rate limit.")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert later.status_code == 200


def test_content_creation_limit(make_sim: Callable[..., RunningSim]) -> None:
    sim = make_sim(SMALL_WORLD, limits=RateLimitConfig(content_per_minute=2))
    with sim.http(sim.installation_token()) as client:
        sha = client.get("/repos/acme/one/git/ref/heads/main").json()["object"]["sha"]
        codes = [
            client.post("/repos/acme/one/git/refs", json={"ref": f"refs/heads/b{n}", "sha": sha})
            for n in range(3)
        ]
    assert [c.status_code for c in codes] == [201, 201, 403]
    assert "temporarily blocked from content creation" in codes[-1].json()["message"]
    assert "retry-after" in codes[-1].headers


def test_secondary_storm_and_ghes_default(make_sim: Callable[..., RunningSim]) -> None:
    sim = make_sim(SMALL_WORLD)
    token = sim.installation_token()
    sim.admin.secondary_storm(30)
    with sim.http(token) as client:
        stormed = client.get("/repos/acme/one")
    assert stormed.status_code == 403
    assert int(stormed.headers["retry-after"]) <= 30
    ghes = make_sim(SMALL_WORLD, ghes=True)
    with ghes.http(ghes.installation_token()) as client:
        answers = [client.get("/repos/acme/one") for _ in range(3)]
    assert {a.headers["x-ratelimit-used"] for a in answers} == {"0"}
    assert answers[0].headers["x-github-enterprise-version"].startswith("3.")


def test_rate_limit_reports_the_graphql_points_spent(make_sim: Callable[..., RunningSim]) -> None:
    sim = make_sim(SMALL_WORLD)
    query = '{ repository(owner: "acme", name: "one") { name } rateLimit { cost remaining } }'
    with sim.http(sim.installation_token()) as client:
        before = client.get("/rate_limit").json()["resources"]
        answers = [client.post("/graphql", json={"query": query}) for _ in range(3)]
        after = client.get("/rate_limit").json()["resources"]
    assert [a.status_code for a in answers] == [200] * 3
    last = answers[-1]
    assert last.json()["data"]["rateLimit"] == {
        "cost": 1,
        "remaining": before["graphql"]["limit"] - 3,
    }
    # GraphQL spends its own budget, which /rate_limit reports as its answers' headers do.
    assert before["graphql"]["used"] == 0
    assert after["graphql"] == {
        "limit": int(last.headers["x-ratelimit-limit"]),
        "remaining": int(last.headers["x-ratelimit-remaining"]),
        "reset": int(last.headers["x-ratelimit-reset"]),
        "used": 3,
    }
    assert after["core"]["used"] == before["core"]["used"]
    # Without authentication: the IP address's 60 an hour, and no GraphQL budget at all.
    with sim.http() as anonymous:
        unauthenticated = anonymous.get("/rate_limit")
    assert unauthenticated.status_code == 200, unauthenticated.text
    resources = unauthenticated.json()["resources"]
    assert resources["core"]["limit"] == 60
    assert (resources["graphql"]["limit"], resources["graphql"]["remaining"]) == (0, 0)
