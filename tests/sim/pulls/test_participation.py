"""Who may take part in a pull request's conversation: anyone who can read the repository
comments and reviews, and only reviews by people with write access count toward the
approvals branch protection requires (GitHub's "Approving a pull request with required
reviews")."""

from __future__ import annotations

from tests.sim.conftest import RunningSim
from tests.sim.pulls.conftest import ALICE, CAROL, branch

BOB = "ghp_bob000000000000000000000000000000000"  # an org member: read access only


def test_readers_comment_and_review_but_their_approval_does_not_count(psim: RunningSim) -> None:
    branch(psim, "widgets", "talk", {"t.txt": "t\n"})
    with psim.http(ALICE) as alice:
        opened = alice.post(
            "/repos/acme/widgets/pulls", json={"title": "Talk", "head": "talk", "base": "main"}
        )
        assert opened.status_code == 201, opened.text
    base = "/repos/acme/widgets/pulls/1"
    with psim.http(BOB) as bob:
        said = bob.post("/repos/acme/widgets/issues/1/comments", json={"body": "A question."})
        assert said.status_code == 201, said.text
        assert said.json()["author_association"] == "MEMBER"
        noted = bob.post(f"{base}/reviews", json={"event": "COMMENT", "body": "Reads well."})
        assert noted.status_code == 200, noted.text
        approved = bob.post(f"{base}/reviews", json={"event": "APPROVE"})
        assert approved.status_code == 200, approved.text
        assert approved.json()["state"] == "APPROVED"
        # A reader still may not change the pull request itself.
        edit = bob.patch(base, json={"title": "Mine now"})
        assert edit.status_code == 403
        labels = bob.post("/repos/acme/widgets/issues/1/labels", json={"labels": ["bug"]})
        assert labels.status_code == 403
    with psim.http(ALICE) as alice:
        states = [r["state"] for r in alice.get(f"{base}/reviews").json()]
        assert states == ["COMMENTED", "APPROVED"]
        query = '{repository(owner:"acme",name:"widgets"){pullRequest(number:1){reviewDecision}}}'
        decided = alice.post("/graphql", json={"query": query}).json()
        assert decided["data"]["repository"]["pullRequest"]["reviewDecision"] == "REVIEW_REQUIRED"
    with psim.http(CAROL) as carol:  # cannot see the private repository at all
        hidden = carol.post("/repos/acme/widgets/issues/1/comments", json={"body": "Hi"})
        assert hidden.status_code == 404
        review = carol.post(f"{base}/reviews", json={"event": "COMMENT", "body": "x"})
        assert review.status_code == 404
