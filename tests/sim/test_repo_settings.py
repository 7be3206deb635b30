"""``PATCH /repos/{owner}/{repo}`` over plain HTTP: who may edit, what is refused, and
that a rename and archiving take effect."""

from __future__ import annotations

from tests.sim.conftest import RunningSim

ALICE = "ghp_alice0000000000000000000000000000000"
BOB = "ghp_bob000000000000000000000000000000000"


def test_only_admins_edit_a_repository(sim: RunningSim) -> None:
    with sim.http(BOB) as bob:
        refused = bob.patch("/repos/acme/gadgets", json={"description": "mine"})
    assert refused.status_code == 403
    assert refused.json()["message"] == "Resource not accessible by personal access token"
    with sim.http(sim.installation_token(slug="lite")) as lite:
        refused = lite.patch("/repos/acme/gadgets", json={"description": "mine"})
    assert refused.status_code == 403
    assert refused.headers["x-accepted-github-permissions"] == "administration=write"
    assert sim.sim.world.get_repo("acme", "gadgets").description is None


def test_edit_refuses_taken_names_and_missing_branches(sim: RunningSim) -> None:
    with sim.http(ALICE) as alice:
        taken = alice.patch("/repos/acme/gadgets", json={"name": "widgets"})
        branch = alice.patch("/repos/acme/gadgets", json={"default_branch": "nope"})
    assert taken.status_code == branch.status_code == 422
    assert taken.json()["errors"][0]["message"] == "name already exists on this account"
    assert branch.json()["errors"][0]["field"] == "default_branch"
    assert sim.sim.world.find_repo("acme", "gadgets") is not None


def test_edit_renames_archives_and_unarchives(sim: RunningSim) -> None:
    with sim.http(ALICE) as alice:
        edited = alice.patch(
            "/repos/acme/gadgets",
            json={"name": "gizmos", "description": "Gizmos", "allow_squash_merge": False},
        )
        assert edited.status_code == 200, edited.text
        assert edited.json()["full_name"] == "acme/gizmos"
        assert edited.json()["description"] == "Gizmos"
        moved = alice.get("/repos/acme/gadgets")
        assert moved.status_code == 301
        archived = alice.patch("/repos/acme/gizmos", json={"archived": True})
        assert archived.json()["archived"] is True
        frozen = alice.patch("/repos/acme/gizmos", json={"description": "again"})
        assert frozen.status_code == 403
        thawed = alice.patch("/repos/acme/gizmos", json={"archived": False})
        assert thawed.json()["archived"] is False
    repo = sim.sim.world.get_repo("acme", "gizmos")
    assert not repo.allow_squash_merge
    assert repo.description == "Gizmos"
    operations = [e.operation for e in sim.sim.ledger.entries() if e.method == "PATCH"]
    assert operations == ["PATCH /repos/{owner}/{repo}"] * 4
