"""Publishing a subset of a real preview from its run page: chosen by checkbox or by the
filters, a confirmation that says what will happen (and changes nothing), then exactly
those changesets, audited with the session's principal; viewers and forged posts refused."""

from __future__ import annotations

import re

from shoal.domain.auth import Role
from tests.ui.preview_stack import (  # noqa: F401 - fixtures
    CAMPAIGN,
    Previewed,
    app_keys,
    make_sim,
    make_stack,
    octokit_schemas,
    previewed,
    result_repos,
    work_dir,
)

SUMMARY = re.compile(r"Will open (\d+) pull requests? in (\d+) orgs?")


def _changesets(previewed: Previewed) -> list[str]:  # noqa: F811
    found = previewed.stack.get(f"/campaigns/{CAMPAIGN}/changesets", limit=5000)
    return sorted(c["repo"] for c in found)


def test_an_operator_publishes_chosen_repositories_then_a_filtered_subset(
    previewed: Previewed,  # noqa: F811
) -> None:
    run = f"/ui/runs/{previewed.run_id}"
    operator = previewed.browser(Role.OPERATOR)
    page = operator.get(run)
    assert "Publish…" in page.text and 'name="repos" value="acme/api"' in page.text
    # Only patches can be chosen.
    assert 'name="repos" value="acme/web"' not in page.text

    chosen = {"scope": "selected", "repos": ["acme/api", "globex/alpha"]}
    confirm = operator.post(f"{run}/publish/confirm", chosen)
    assert confirm.status_code == 200, confirm.text
    said = SUMMARY.search(confirm.text)
    assert said and said.groups() == ("2", "2"), confirm.text
    assert "Publish 2 changesets" in confirm.text
    assert "0 today" not in confirm.text and "will wait for the daily budget" not in confirm.text
    # The confirmation is a dry run: nothing exists, nothing is audited yet.
    assert _changesets(previewed) == []
    assert previewed.stack.get("/audit", action="campaign.publish") == []

    done = operator.post(f"{run}/publish", chosen)
    assert done.status_code == 200, done.text
    assert "<strong data-scheduled>2</strong>" in done.text
    assert f"/ui/campaigns/{CAMPAIGN}/changesets?batch=" in done.text
    assert _changesets(previewed) == ["acme/api", "globex/alpha"]

    # By the filters: the acme repositories whose patch touches a workflow.
    matching = {
        "scope": "matching",
        "org": "acme",
        "path": ".github/workflows/**",
        "draft": "true",
    }
    confirm = operator.post(f"{run}/publish/confirm", matching)
    said = SUMMARY.search(confirm.text)
    # acme/api has its changeset already (its PR may be open by now: then it is only
    # brought up to date); acme/app-two opens one.
    assert said and said.group(2) == "1", confirm.text
    assert "Publish 2 changesets" in confirm.text and "as drafts" in confirm.text
    done = operator.post(f"{run}/publish", matching)
    assert done.status_code == 200, done.text
    expected = sorted(
        previewed.stack.executions(
            previewed.run_id, state="patch", repo="acme/*", path=".github/workflows/**"
        )
    )
    assert expected == ["acme/api", "acme/app-two"]
    assert _changesets(previewed) == ["acme/api", "acme/app-two", "globex/alpha"]

    events = previewed.stack.get("/audit", action="campaign.publish")
    assert [e["actor"] for e in events] == ["token:test-operator"] * 2
    assert events[0]["details"]["filter"] == {"repos": ["acme/api", "globex/alpha"]}
    assert events[1]["details"]["filter"] == {"org": "acme", "path_glob": ".github/workflows/**"}
    assert events[1]["details"]["draft"] is True


def test_viewers_forged_posts_and_stale_runs_cannot_publish(
    previewed: Previewed,  # noqa: F811
) -> None:
    run = f"/ui/runs/{previewed.run_id}"
    chosen = {"scope": "selected", "repos": ["acme/api"]}
    viewer = previewed.browser(Role.VIEWER)
    assert "Publish…" not in viewer.get(run).text
    assert viewer.post(f"{run}/publish/confirm", chosen).status_code == 403
    assert viewer.post(f"{run}/publish", chosen).status_code == 403

    operator = previewed.browser(Role.OPERATOR)
    forged = operator.http.post(
        f"{run}/publish",
        data=chosen,
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert forged.status_code == 403
    assert operator.http.post(f"{run}/publish", data=chosen).status_code == 403  # no token
    nothing = operator.post(f"{run}/publish/confirm", {"scope": "selected"})
    assert nothing.status_code == 422 and "select at least one" in nothing.text
    unknown = operator.post(f"{run}/publish", {"scope": "selected", "repos": ["acme/web"]})
    assert unknown.status_code == 404 and "no patch to publish" in unknown.text

    # A newer preview is what publishing publishes: the older run's page says so and
    # refuses to publish from it.
    newer = previewed.stack.wait(previewed.stack.start_preview(CAMPAIGN)["id"])
    stale = operator.get(run)
    assert "Publish…" not in stale.text and f"/ui/runs/{newer['id']}" in stale.text
    refused = operator.post(f"{run}/publish", chosen)
    assert refused.status_code == 409 and "latest preview" in refused.text
    assert _changesets(previewed) == []
    assert previewed.stack.get("/audit", action="campaign.publish") == []


def test_the_confirmation_says_how_many_wait_for_the_daily_budget_and_when(
    previewed: Previewed,  # noqa: F811
) -> None:
    with previewed.stack.client() as api:
        capped = api.put("/budgets/acme", json={"max_prs_per_day": 1})
    assert capped.status_code == 200, capped.text
    operator = previewed.browser(Role.OPERATOR)
    run = f"/ui/runs/{previewed.run_id}"
    confirm = operator.post(f"{run}/publish/confirm", {"scope": "matching", "org": "acme"})
    assert confirm.status_code == 200, confirm.text
    said = SUMMARY.search(confirm.text)
    assert said and said.groups() == ("3", "1"), confirm.text
    assert "1 today" in confirm.text
    assert "2 will wait for the daily budget</strong>, the first of them from" in confirm.text
    assert "0 of 1" in confirm.text  # the org's budget used today, of its cap
    assert _changesets(previewed) == []


def test_publishing_selects_what_the_page_lists_for_the_same_filters(
    previewed: Previewed,  # noqa: F811
) -> None:
    operator = previewed.browser(Role.OPERATOR)
    run = f"/ui/runs/{previewed.run_id}"
    for repo in ("acme*", "acme/a*", "*/a*", "api", "**/[ab]*"):
        listed = result_repos(operator.get(run, params={"repo": repo, "state": "patch"}).text)
        confirm = operator.post(f"{run}/publish/confirm", {"scope": "matching", "repo": repo})
        assert confirm.status_code == 200, confirm.text
        said = SUMMARY.search(confirm.text)
        # `*` stays within owner or name, here as on the page: "acme*" publishes nothing.
        opens = int(said.group(1)) if said else 0
        assert opens == len(listed), (repo, listed, confirm.text)
    assert not result_repos(operator.get(run, params={"repo": "acme*"}).text)
