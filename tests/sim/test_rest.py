"""Repository, refs and Git Data REST endpoints: shapes, errors, pagination and ETags."""

from __future__ import annotations

import io
import json
import tarfile

import httpx
import pytest

from shoal_sim import rest
from tests.sim.conftest import RunningSim


def test_pagination_link_headers(sim: RunningSim) -> None:
    with sim.http(sim.installation_token()) as client:
        first = client.get("/orgs/acme/repos", params={"per_page": 10, "sort": "full_name"})
        last = client.get(
            "/orgs/acme/repos", params={"per_page": 10, "page": 5, "sort": "full_name"}
        )
        capped = client.get("/installation/repositories", params={"per_page": 500})
    assert first.status_code == 200
    assert len(first.json()) == 10
    assert first.json()[0]["full_name"] == "acme/docs"
    assert first.links["next"]["url"].endswith("page=2") or "page=2" in first.links["next"]["url"]
    assert "page=5" in first.links["last"]["url"]
    assert "prev" not in first.links
    assert len(last.json()) == 4
    assert "next" not in last.links and "prev" in last.links
    assert len(capped.json()["repositories"]) == 44  # per_page is capped at 100


def test_org_repo_filters(sim: RunningSim) -> None:
    with sim.http(sim.installation_token()) as client:
        forks = client.get("/orgs/acme/repos", params={"type": "forks"}).json()
        public = client.get("/orgs/acme/repos", params={"type": "public"}).json()
        archived = [
            r
            for r in client.get("/orgs/acme/repos", params={"per_page": 100}).json()
            if r["archived"]
        ]
    assert {r["name"] for r in forks} == {"svc-015", "svc-030"}
    assert [r["name"] for r in public] == ["docs"]
    assert len(archived) == 4


def test_etag_gives_304_that_is_not_counted(sim: RunningSim) -> None:
    with sim.http(sim.installation_token()) as client:
        first = client.get("/repos/acme/widgets")
        again = client.get("/repos/acme/widgets", headers={"if-none-match": first.headers["etag"]})
        after = client.get("/rate_limit").json()["resources"]["core"]
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["x-ratelimit-used"] == first.headers["x-ratelimit-used"]
    assert after["used"] == int(first.headers["x-ratelimit-used"])
    for name in (
        "x-github-request-id",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-ratelimit-resource",
        "x-github-api-version-selected",
    ):
        assert name in first.headers


def test_refs_lifecycle(sim: RunningSim) -> None:
    with sim.http(sim.installation_token()) as client:
        main = client.get("/repos/acme/gadgets/git/ref/heads/main").json()["object"]["sha"]
        created = client.post(
            "/repos/acme/gadgets/git/refs", json={"ref": "refs/heads/topic", "sha": main}
        )
        again = client.post(
            "/repos/acme/gadgets/git/refs", json={"ref": "refs/heads/topic", "sha": main}
        )
        matching = client.get("/repos/acme/gadgets/git/matching-refs/heads/to").json()
        deleted = client.delete("/repos/acme/gadgets/git/refs/heads/topic")
        gone = client.delete("/repos/acme/gadgets/git/refs/heads/topic")
        missing = client.get("/repos/acme/gadgets/git/ref/heads/topic")
        empty = client.get("/repos/acme/empty/git/ref/heads/main")
    assert created.status_code == 201
    assert (again.status_code, again.json()["message"]) == (422, "Reference already exists")
    assert [m["ref"] for m in matching] == ["refs/heads/topic"]
    assert deleted.status_code == 204
    assert (gone.status_code, gone.json()["message"]) == (422, "Reference does not exist")
    assert missing.status_code == 404
    assert (empty.status_code, empty.json()["message"]) == (409, "Git Repository is empty.")


def test_git_data_commit_is_verified_and_force_update(sim: RunningSim) -> None:
    with sim.http(sim.installation_token()) as client:
        main = client.get("/repos/acme/gadgets/branches/main").json()["commit"]
        blob = client.post(
            "/repos/acme/gadgets/git/blobs", json={"content": "aGVsbG8K", "encoding": "base64"}
        ).json()
        tree = client.post(
            "/repos/acme/gadgets/git/trees",
            json={
                "base_tree": main["commit"]["tree"]["sha"],
                "tree": [
                    {
                        "path": "docs/hello.txt",
                        "mode": "100644",
                        "type": "blob",
                        "sha": blob["sha"],
                    },
                    {"path": "inline.txt", "mode": "100644", "type": "blob", "content": "inline\n"},
                ],
            },
        ).json()
        commit = client.post(
            "/repos/acme/gadgets/git/commits",
            json={"message": "Add hello", "tree": tree["sha"], "parents": [main["sha"]]},
        )
        custom = client.post(
            "/repos/acme/gadgets/git/commits",
            json={
                "message": "Root",
                "tree": tree["sha"],
                "author": {"name": "A", "email": "a@example.com"},
            },
        ).json()
        client.post(
            "/repos/acme/gadgets/git/refs", json={"ref": "refs/heads/work", "sha": main["sha"]}
        )
        ff = client.patch(
            "/repos/acme/gadgets/git/refs/heads/work", json={"sha": commit.json()["sha"]}
        )
        not_ff = client.patch(
            "/repos/acme/gadgets/git/refs/heads/work", json={"sha": custom["sha"]}
        )
        banned = client.patch(
            "/repos/acme/gadgets/git/refs/heads/main", json={"sha": custom["sha"], "force": True}
        )
        forced = client.patch(
            "/repos/acme/gadgets/git/refs/heads/work", json={"sha": custom["sha"], "force": True}
        )
        listed = client.get("/repos/acme/gadgets/commits", params={"sha": "work"}).json()
        detail = client.get(f"/repos/acme/gadgets/commits/{commit.json()['sha']}").json()
        full_tree = client.get(
            f"/repos/acme/gadgets/git/trees/{tree['sha']}", params={"recursive": "1"}
        ).json()
        content = client.get(
            "/repos/acme/gadgets/contents/docs/hello.txt", params={"ref": commit.json()["sha"]}
        ).json()
        bad_tree = client.post(
            "/repos/acme/gadgets/git/commits", json={"message": "x", "tree": "f" * 40}
        )
    assert commit.status_code == 201
    assert commit.json()["verification"]["verified"] is True
    assert commit.json()["verification"]["reason"] == "valid"
    assert commit.json()["author"]["name"] == "shoal[bot]"
    assert custom["verification"]["verified"] is False
    assert ff.status_code == 200
    assert (not_ff.status_code, not_ff.json()["message"]) == (422, "Update is not a fast forward")
    assert (banned.status_code, banned.json()["message"]) == (
        422,
        "GH003: Sorry, force-pushing to main is not allowed.",
    )
    assert forced.json()["object"]["sha"] == custom["sha"]
    assert [c["sha"] for c in listed] == [custom["sha"]]
    assert {f["filename"] for f in detail["files"]} == {"docs/hello.txt", "inline.txt"}
    assert {e["path"] for e in full_tree["tree"]} >= {"docs", "docs/hello.txt", "inline.txt"}
    assert content["content"].replace("\n", "") == "aGVsbG8K"
    assert (bad_tree.status_code, bad_tree.json()["message"]) == (422, "Tree SHA does not exist")


def test_tarball_redirects_to_a_real_archive(sim: RunningSim) -> None:
    with sim.http(sim.installation_token()) as client:
        redirect = client.get("/repos/acme/widgets/tarball/main")
        branches = client.get("/repos/acme/widgets/branches").json()
        missing_branch = client.get("/repos/acme/widgets/branches/nope")
    assert redirect.status_code == 302
    archive = httpx.get(redirect.headers["location"])
    with tarfile.open(fileobj=io.BytesIO(archive.content), mode="r:gz") as tar:
        names = tar.getnames()
    sha = branches[0]["commit"]["sha"]
    assert f"acme-widgets-{sha[:7]}/Dockerfile" in names
    assert branches[0]["protected"] is True
    assert (missing_branch.status_code, missing_branch.json()["message"]) == (
        404,
        "Branch not found",
    )


def test_bad_input_never_500(sim: RunningSim) -> None:
    with sim.http(sim.installation_token()) as client:
        answers = [
            client.post("/repos/acme/gadgets/git/refs", content=b"[1, 2"),
            client.post("/repos/acme/gadgets/git/refs", json=[1, 2]),
            client.post("/repos/acme/gadgets/git/refs", json={"ref": 5}),
            client.post("/repos/acme/gadgets/git/trees", json={"tree": [{"path": 1}]}),
            client.patch("/repos/acme/gadgets/git/refs/heads/main", json={"sha": None}),
            client.get("/repos/acme/gadgets/git/blobs/zzz"),
            client.get("/repos/acme/gadgets/commits/not-a-ref"),
            client.get("/no/such/endpoint"),
            client.get("/repos/acme/gadgets", headers={"x-github-api-version": "1999-01-01"}),
        ]
    assert [a.status_code for a in answers] == [400, 400, 422, 422, 422, 404, 422, 404, 400]
    assert all("message" in a.json() for a in answers)


def test_an_oversized_body_is_refused_unread_with_413(
    sim: RunningSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rest, "MAX_BODY_BYTES", 1024)
    alice = "ghp_alice0000000000000000000000000000000"
    with sim.http(alice) as client:
        fits = client.post("/repos/acme/widgets/labels", json={"name": "fits", "color": "00ff00"})
        assert fits.status_code == 201, fits.text
        big = json.dumps({"name": "big", "color": "ff0000", "description": "x" * 2000}).encode()
        declared = client.post("/repos/acme/widgets/labels", content=big)
        # without a content-length (chunked), the body is cut off as it arrives
        streamed = client.post("/repos/acme/widgets/labels", content=iter([big[:700], big[700:]]))
        names = [label["name"] for label in client.get("/repos/acme/widgets/labels").json()]
    for refused in (declared, streamed):
        assert refused.status_code == 413, refused.text
        assert refused.json()["message"] == "Request Entity Too Large"
    assert "content-length" not in streamed.request.headers
    assert "fits" in names and "big" not in names


def test_an_oversized_graphql_body_is_refused_with_413(
    sim: RunningSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rest, "MAX_BODY_BYTES", 1024)
    query = "{ viewer { login } }"
    with sim.http("ghp_alice0000000000000000000000000000000") as client:
        fits = client.post("/graphql", json={"query": query})
        refused = client.post("/graphql", json={"query": query + " " * 2000})
    assert fits.json() == {"data": {"viewer": {"login": "alice"}}}
    assert refused.status_code == 413, refused.text
    assert refused.json()["message"] == "Request Entity Too Large"
