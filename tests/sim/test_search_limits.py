"""REST search spends its own primary budget: 30 requests a minute (10 without
authentication), reported as the ``search`` resource, leaving the core budget alone."""

from __future__ import annotations

from collections.abc import Callable

from tests.sim.conftest import RunningSim

ALICE = "ghp_alice0000000000000000000000000000000"


def test_search_has_its_own_budget_per_minute(sim: RunningSim) -> None:
    with sim.http(ALICE) as client:
        core_before = int(client.get("/repos/acme/widgets").headers["x-ratelimit-remaining"])
        for n in range(30):
            found = client.get("/search/repositories", params={"q": "org:acme widgets"})
            assert found.status_code == 200
            assert found.headers["x-ratelimit-resource"] == "search"
            assert found.headers["x-ratelimit-limit"] == "30"
            assert found.headers["x-ratelimit-remaining"] == str(29 - n)
        over = client.get("/search/issues", params={"q": "org:acme is:pr"})
        assert over.status_code == 403
        assert over.json()["message"].startswith("API rate limit exceeded for user ID ")
        assert over.headers["x-ratelimit-remaining"] == "0"
        resources = client.get("/rate_limit").json()["resources"]
        assert (resources["search"]["used"], resources["search"]["remaining"]) == (30, 0)
        core = client.get("/repos/acme/widgets")
        assert core.headers["x-ratelimit-resource"] == "core"
        assert int(core.headers["x-ratelimit-remaining"]) == core_before - 1

        sim.admin.advance_clock(61)  # a new minute
        again = client.get("/search/issues", params={"q": "org:acme is:pr"})
        assert (again.status_code, again.headers["x-ratelimit-remaining"]) == (200, "29")

    with sim.http() as anonymous:
        answers = [
            anonymous.get("/search/repositories", params={"q": "org:acme"}) for _ in range(11)
        ]
        assert [a.status_code for a in answers] == [200] * 10 + [403]
        assert answers[0].headers["x-ratelimit-limit"] == "10"
        assert answers[0].json()["total_count"] == 1  # only the public acme/docs


def test_search_on_ghes_paths(make_sim: Callable[..., RunningSim]) -> None:
    sim = make_sim(ghes=True)  # GHES: rate limits are off by default, search's too
    with sim.http(ALICE) as client:
        assert client.base_url.path == "/api/v3/"
        for _ in range(31):
            repos = client.get("/search/repositories", params={"q": "org:acme topic:core"})
            assert repos.status_code == 200
        assert [r["full_name"] for r in repos.json()["items"]] == ["acme/widgets"]
        pulls = client.get("/search/issues", params={"q": "org:acme is:pr"})
        assert pulls.json()["total_count"] == 0
        assert pulls.json()["items"] == []
