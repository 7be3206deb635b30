"""GitHub App and token authentication, with real clients and GitHub's exact errors."""

from __future__ import annotations

import time
from collections.abc import Callable

import jwt
import pytest
from githubkit import AppAuthStrategy, GitHub
from githubkit.cache import MemCacheStrategy

from github import Auth, Github, GithubIntegration
from tests.sim.conftest import RunningSim


def test_githubkit_app_flow_creates_a_ref(sim: RunningSim) -> None:
    app = sim.app()
    gh = GitHub(
        AppAuthStrategy(str(app["id"]), app["private_key_pem"]),
        base_url=sim.rest_url,
        http_cache=False,
        auto_retry=False,
        cache_strategy=MemCacheStrategy(),
    )
    assert gh.rest.apps.get_authenticated().parsed_data.slug == "shoal"
    installation = gh.rest.apps.get_org_installation("acme").parsed_data
    assert installation.id == app["installations"]["acme"]
    igh = gh.with_auth(gh.auth.as_installation(installation.id))
    listed = igh.rest.apps.list_repos_accessible_to_installation(per_page=100).parsed_data
    assert listed.total_count == 44
    assert "acme/widgets" in {r.full_name for r in listed.repositories}
    repo = igh.rest.repos.get("acme", "widgets").parsed_data
    assert repo.default_branch == "main"
    assert repo.clone_url == f"{sim.url}/acme/widgets.git"
    assert repo.ssh_url == "git@127.0.0.1:acme/widgets.git"
    head = igh.rest.git.get_ref("acme", "widgets", "heads/main").parsed_data
    created = igh.rest.git.create_ref(
        "acme", "widgets", ref="refs/heads/shoal/bump", sha=head.object_.sha
    ).parsed_data
    assert created.ref == "refs/heads/shoal/bump"
    assert created.object_.sha == head.object_.sha
    entry = sim.admin.ledger()[-1]
    assert entry["operation"] == "POST /repos/{owner}/{repo}/git/refs"
    assert entry["actor"]["kind"] == "installation"
    assert entry["repo"] == "acme/widgets"
    assert entry["status"] == 201


def test_pygithub_integration_token_and_repo(sim: RunningSim) -> None:
    app = sim.app()
    auth = Auth.AppAuth(app["id"], app["private_key_pem"])
    integration = GithubIntegration(auth=auth, base_url=sim.rest_url)
    installation = integration.get_repo_installation("acme", "widgets")
    token = integration.get_access_token(installation.id).token
    assert token.startswith("ghs_")
    client = Github(auth=Auth.Token(token), base_url=sim.rest_url, retry=None)
    repo = client.get_repo("acme/widgets")
    assert repo.full_name == "acme/widgets"
    assert repo.get_branch("main").protected is True
    client.close()
    integration.close()


def test_githubkit_against_ghes_paths(make_sim: Callable[..., RunningSim]) -> None:
    ghes = make_sim(ghes=True)
    app = ghes.app()
    gh = GitHub(
        AppAuthStrategy(str(app["id"]), app["private_key_pem"]),
        base_url=ghes.rest_url,
        http_cache=False,
        auto_retry=False,
        cache_strategy=MemCacheStrategy(),
    )
    inst = gh.rest.apps.get_repo_installation("acme", "widgets").parsed_data
    igh = gh.with_auth(gh.auth.as_installation(inst.id))
    repo = igh.rest.repos.get("acme", "widgets").parsed_data
    assert repo.url == f"{ghes.url}/api/v3/repos/acme/widgets"
    assert repo.html_url == f"{ghes.url}/acme/widgets"


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        (
            {"exp": int(time.time()) - 120, "iat": int(time.time()) - 600},
            "'Expiration time' claim ('exp') must be a numeric value representing the future "
            "time at which the assertion expires",
        ),
        (
            {"exp": int(time.time()) + 3600},
            "'Expiration time' claim ('exp') is too far in the future",
        ),
        ({"iss": "999999"}, "A JSON web token could not be decoded"),
    ],
    ids=["expired", "too-long", "unknown-app"],
)
def test_bad_jwt_is_refused(sim: RunningSim, claims: dict[str, object], message: str) -> None:
    with sim.http(sim.jwt(**claims), scheme="Bearer") as client:
        response = client.get("/app")
    assert response.status_code == 401
    assert response.json()["message"] == message
    assert response.json()["documentation_url"].startswith("https://docs.github.com/")


def test_jwt_signed_with_another_key_is_undecodable(sim: RunningSim) -> None:
    other = sim.app("lite")["private_key_pem"]
    now = int(time.time())
    token = jwt.encode(
        {"iat": now - 60, "exp": now + 500, "iss": str(sim.app()["id"])}, other, algorithm="RS256"
    )
    with sim.http(token, scheme="Bearer") as client:
        response = client.get("/app/installations")
    assert (response.status_code, response.json()["message"]) == (
        401,
        "A JSON web token could not be decoded",
    )


def test_installation_token_cannot_call_jwt_endpoints(sim: RunningSim) -> None:
    with sim.http(sim.installation_token()) as client:
        response = client.get("/app/installations")
    assert response.status_code == 401
    assert response.json()["message"] == "A JSON web token could not be decoded"


def test_token_narrowing(sim: RunningSim) -> None:
    token = sim.installation_token(repositories=["widgets"], permissions={"contents": "read"})
    with sim.http(token) as client:
        listed = client.get("/installation/repositories").json()
        assert listed["total_count"] == 1
        assert listed["repository_selection"] == "selected"
        assert client.get("/repos/acme/gadgets").status_code == 404
        refused = client.post(
            "/repos/acme/widgets/git/refs", json={"ref": "refs/heads/x", "sha": "0" * 40}
        )
    assert refused.status_code == 403
    assert refused.json()["message"] == "Resource not accessible by integration"
    assert refused.headers["x-accepted-github-permissions"] == "contents=write"


def test_token_narrowing_beyond_installation_is_422(sim: RunningSim) -> None:
    inst = sim.app()["installations"]["acme"]
    with sim.http(sim.jwt(), scheme="Bearer") as client:
        too_much = client.post(
            f"/app/installations/{inst}/access_tokens",
            json={"permissions": {"administration": "write"}},
        )
        unknown = client.post(
            f"/app/installations/{inst}/access_tokens", json={"repositories": ["nope"]}
        )
        malformed = client.post(f"/app/installations/{inst}/access_tokens", content=b"{oops")
    assert too_much.status_code == 422
    assert too_much.json()["message"] == (
        "The permissions requested are not granted to this installation."
    )
    assert unknown.status_code == 422
    assert malformed.status_code == 400
    assert malformed.json()["message"] == "Problems parsing JSON"


def test_expired_and_revoked_tokens_are_bad_credentials(sim: RunningSim) -> None:
    token = sim.installation_token()
    with sim.http(token) as client:
        assert client.get("/repos/acme/widgets").status_code == 200
        assert client.delete("/installation/token").status_code == 204
        revoked = client.get("/repos/acme/widgets")
    assert (revoked.status_code, revoked.json()["message"]) == (401, "Bad credentials")
    fresh = sim.installation_token()
    sim.admin.advance_clock(3601)
    with sim.http(fresh) as client:
        expired = client.get("/repos/acme/widgets")
    assert (expired.status_code, expired.json()["message"]) == (401, "Bad credentials")


def test_repositories_outside_the_installation_are_404(sim: RunningSim) -> None:
    with sim.http(sim.installation_token("globex")) as client:
        assert client.get("/repos/globex/alpha").status_code == 200
        hidden = client.get("/repos/globex/beta")
        missing = client.get("/repos/acme/does-not-exist")
    assert hidden.status_code == 404
    assert hidden.json()["message"] == "Not Found"
    assert missing.status_code == 404


def test_personal_access_tokens(sim: RunningSim) -> None:
    with sim.http("ghp_alice0000000000000000000000000000000", scheme="Bearer") as client:
        me = client.get("/user").json()
        repo = client.get("/repos/acme/widgets").json()
    assert me["login"] == "alice"
    assert repo["permissions"]["admin"] is True
    with sim.http(sim.installation_token()) as client:
        denied = client.get("/user")
    assert (denied.status_code, denied.json()["message"]) == (
        403,
        "Resource not accessible by integration",
    )
    with sim.http(None) as client:
        anonymous = client.get("/user")
        public = client.get("/repos/acme/docs")
        private = client.get("/repos/acme/widgets")
    assert (anonymous.status_code, anonymous.json()["message"]) == (401, "Requires authentication")
    assert public.status_code == 200
    assert private.status_code == 404
    assert anonymous.headers["x-ratelimit-limit"] == "60"
