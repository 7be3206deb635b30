"""push and repository webhooks: a real git push and admin repository changes reach a real
receiver, signed, with GitHub's headers, in causal order."""

from __future__ import annotations

from pathlib import Path

from shoal_sim.webhooks import verify
from tests.sim.conftest import RunningSim, basic_header, run_git
from tests.sim.webhooks.receiver import Receiver

ZERO = "0" * 40


def _push_branch(sim: RunningSim, tmp_path: Path, token: str) -> list[str]:
    work = tmp_path / "widgets"
    run_git(
        "-c",
        basic_header(token),
        "clone",
        "--quiet",
        f"{sim.url}/acme/widgets.git",
        str(work),
        cwd=tmp_path,
    )
    run_git("checkout", "--quiet", "-b", "shoal/py312", cwd=work)
    (work / "Dockerfile").write_text("FROM python:3.12-slim\n")
    (work / "NOTES.md").write_text("bumped\n")
    run_git("add", "-A", cwd=work)
    run_git("commit", "--quiet", "-m", "Bump Python", cwd=work)
    run_git("rm", "--quiet", "README.md", cwd=work)
    run_git("commit", "--quiet", "-m", "Drop README", cwd=work)
    run_git("-c", basic_header(token), "push", "--quiet", "origin", "shoal/py312", cwd=work)
    return run_git("rev-list", "--reverse", "origin/main..HEAD", cwd=work).stdout.split()


def test_git_push_delivers_a_signed_push_webhook(
    hooked: RunningSim, receiver: Receiver, tmp_path: Path
) -> None:
    app = hooked.app()
    shas = _push_branch(hooked, tmp_path, hooked.installation_token())
    assert hooked.admin.wait_for_webhooks(10)

    [push] = receiver.of("push")
    h = push.headers
    assert verify("s3cret", push.body, h["x-hub-signature-256"])
    assert h["x-hub-signature"].startswith("sha1=")
    assert h["user-agent"].startswith("GitHub-Hookshot/")
    assert h["content-type"] == "application/json"
    assert h["x-github-hook-installation-target-type"] == "integration"
    assert h["x-github-hook-installation-target-id"] == str(app["id"])
    assert h["x-github-hook-id"].isdigit()
    assert len(h["x-github-delivery"]) == 36
    assert "x-github-enterprise-version" not in h

    body = push.payload
    assert body["ref"] == "refs/heads/shoal/py312"
    assert (body["before"], body["after"]) == (ZERO, shas[-1])
    assert body["created"] and not body["deleted"] and not body["forced"]
    assert body["base_ref"] is None
    assert [c["id"] for c in body["commits"]] == shas
    first, second = body["commits"]
    assert (first["added"], first["modified"], first["removed"]) == (
        ["NOTES.md"],
        ["Dockerfile"],
        [],
    )
    assert second["removed"] == ["README.md"]
    assert second["message"] == "Drop README"
    assert body["head_commit"]["id"] == shas[-1]
    assert body["pusher"]["name"] == "shoal[bot]"
    assert body["sender"]["login"] == "shoal[bot]"
    assert body["installation"]["id"] == app["installations"]["acme"]
    assert body["repository"]["full_name"] == "acme/widgets"
    assert isinstance(body["repository"]["pushed_at"], int)
    assert body["organization"]["login"] == "acme"


def test_a_second_push_lists_only_the_new_commit(hooked: RunningSim, receiver: Receiver) -> None:
    first = hooked.admin.push_commit("acme", "docs", {"a.md": "a\n"}, branch="topic")
    second = hooked.admin.push_commit(
        "acme", "docs", {"b.md": "b\n"}, branch="topic", author="alice"
    )
    assert hooked.admin.wait_for_webhooks(10)
    created, moved = (r.payload for r in receiver.of("push"))
    assert created["created"] and created["base_ref"] is None
    assert [c["id"] for c in created["commits"]] == [first]
    assert not moved["created"] and moved["before"] == first
    assert [c["id"] for c in moved["commits"]] == [second]
    assert moved["commits"][0]["author"]["username"] == "alice"
    assert moved["sender"]["login"] == "alice"
    assert moved["compare"].endswith(f"/acme/docs/compare/{first[:12]}...{second[:12]}")


def test_repository_changes_arrive_in_order(hooked: RunningSim, receiver: Receiver) -> None:
    admin = hooked.admin
    admin.archive_repo("acme", "svc-001")
    admin.archive_repo("acme", "svc-001", archived=False)
    admin.rename_repo("acme", "svc-001", "svc-one")
    admin.delete_repo("acme", "svc-one")
    assert admin.wait_for_webhooks(10)
    events = [r.payload for r in receiver.of("repository")]
    assert [e["action"] for e in events] == ["archived", "unarchived", "renamed", "deleted"]
    assert events[0]["repository"]["archived"] is True
    assert events[2]["changes"] == {"repository": {"name": {"from": "svc-001"}}}
    assert events[2]["repository"]["full_name"] == "acme/svc-one"
    assert events[3]["repository"]["name"] == "svc-one"
    # The scenario acts as a human: an admin of the organization.
    assert {e["sender"]["login"] for e in events} == {"alice"}


def test_only_subscribed_apps_with_access_receive(hooked: RunningSim, receiver: Receiver) -> None:
    lite = hooked.app("lite")
    other = Receiver().start()
    try:
        # "lite" subscribes to repository events only: a push is not delivered to it.
        hooked.admin.set_webhook(lite["id"], other.url, secret="x", events=["repository"])
        hooked.admin.push_commit("acme", "docs", {"c.md": "c\n"})
        hooked.admin.push_commit("globex", "beta", {"c.md": "c\n"})  # not in shoal's selection
        hooked.admin.archive_repo("acme", "docs")
        assert hooked.admin.wait_for_webhooks(10)
        assert [r.event for r in other.requests] == ["repository"]
        assert [r.payload["repository"]["name"] for r in receiver.of("push")] == ["docs"]
        guids = {
            r.headers["x-github-delivery"] for r in (*other.requests, *receiver.of("repository"))
        }
        assert len(guids) == 1  # one event, one GUID shared by every App that receives it
    finally:
        other.stop()
