"""Reading base branch tips again for a run that reused a selection, against the simulator."""

from __future__ import annotations

import pytest

from shoal.selection import heads as heads_module
from shoal.selection.heads import BaseRef, current_heads
from tests.selection.conftest import SimReader


def _tip(reader: SimReader, repo: str, branch: str) -> str:
    inst = reader.installations()["acme"]
    reply = reader.graphql(
        inst,
        "query($o: String!, $n: String!, $b: String!) { repository(owner: $o, name: $n) "
        "{ ref(qualifiedName: $b) { target { oid } } } }",
        {"o": "acme", "n": repo, "b": f"refs/heads/{branch}"},
    )
    return str(reply.data["repository"]["ref"]["target"]["oid"])


def test_tips_are_read_in_batches_and_a_missing_branch_or_repo_is_none(
    reader: SimReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(heads_module, "BATCH", 2)
    inst = reader.installations()["acme"]
    refs = [
        BaseRef(inst, "acme", "widgets", "main"),
        BaseRef(inst, "acme", "gateway", "trunk"),
        BaseRef(inst, "acme", "widgets", "no-such-branch"),
        BaseRef(inst, "acme", "no-such-repo", "main"),
    ]
    before = reader.graphql_requests

    found, usage = current_heads(reader, refs[:2])
    missing, missing_usage = current_heads(reader, refs[2:3])
    gone, _ = current_heads(reader, refs[3:])

    assert found == {
        "acme/widgets": _tip(reader, "widgets", "main"),
        "acme/gateway": _tip(reader, "gateway", "trunk"),
    }
    assert usage.requests == 1 and usage.graphql_points >= 1  # two refs, one query
    assert missing == {"acme/widgets": None} and missing_usage.requests == 1
    assert gone == {"acme/no-such-repo": None}
    assert reader.graphql_requests - before == 3 + 2  # the three reads, then the two checks


def test_more_refs_than_a_batch_take_one_query_per_batch(
    reader: SimReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(heads_module, "BATCH", 2)
    inst = reader.installations()["acme"]
    refs = [BaseRef(inst, "acme", f"svc-{i:04d}", "main") for i in range(1, 6)]

    found, usage = current_heads(reader, refs)

    assert len(found) == 5 and all(found.values())
    assert usage.requests == 3
