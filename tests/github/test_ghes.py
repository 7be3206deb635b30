"""GitHub Enterprise Server: REST under `/api/v3`, GraphQL at `/api/graphql`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from shoal.github import GitHubEndpoints
from tests.github.conftest import WORLD, AppUnderTest, RecordingTransport
from tests.sim.conftest import RunningSim


def test_endpoints_are_derived_for_github_com_and_ghes() -> None:
    assert GitHubEndpoints.from_api_url("https://api.github.com").graphql_url == (
        "https://api.github.com/graphql"
    )
    ghes = GitHubEndpoints.from_api_url("https://ghe.acme.dev/api/v3/")
    assert (ghes.api_url, ghes.graphql_url) == (
        "https://ghe.acme.dev/api/v3",
        "https://ghe.acme.dev/api/graphql",
    )
    assert GitHubEndpoints.from_api_url(
        "https://ghe.acme.dev/api/v3", "https://graphql.acme.dev/q"
    ).graphql_url == ("https://graphql.acme.dev/q")


def test_the_whole_surface_works_against_ghes(
    make_sim: Callable[..., RunningSim], make_app: Callable[..., AppUnderTest], tmp_path: Path
) -> None:
    sim = make_sim(WORLD, ghes=True)
    recording = RecordingTransport()
    under = make_app(sim, transport=recording)
    assert under.app.endpoints.api_url.endswith("/api/v3")
    installations = under.app.installations()
    assert set(installations) == {"acme", "globex"}

    client = under.app.installation(installations["globex"])
    assert client.get_repo("globex", "alpha")["full_name"] == "globex/alpha"
    assert [r["name"] for r in client.installation_repositories()] == ["alpha"]
    assert client.graphql('{ repository(owner: "globex", name: "alpha") { name } }') == {
        "repository": {"name": "alpha"}
    }
    written = client.download_tarball(
        "globex", "alpha", "main", tmp_path / "a.tgz", max_bytes=1 << 20
    )
    assert written > 0

    paths = {url.path for url, _ in recording.requests}
    assert "/api/graphql" in paths
    assert "/api/v3/repos/globex/alpha" in paths
    assert not {p for p in paths if p.startswith("/repos/") or p == "/graphql"}
