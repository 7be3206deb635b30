"""The spec editor: validation with the server's errors pinned to lines, the apply plan per
changeset, applying as the signed-in principal, and what it refuses."""

from __future__ import annotations

import html
import re

import httpx

from shoal.domain.auth import Role
from shoal.services import audit, campaigns
from shoal.store.audit import AuditFilter
from tests.ui.conftest import RunningUi
from tests.ui.spec_campaigns import published_campaign, spec

# `steps[0].timeout` is not a duration: line 7, where the value is written.
BROKEN = spec().replace("  - name: bump\n", "  - name: bump\n    timeout: soon\n")
BROKEN_LINE = 7


def _textarea(page: str) -> str:
    found = re.search(r"<textarea[^>]*>\n(.*?)</textarea>", page, re.S)
    assert found, "the page has no spec textarea"
    return html.unescape(found.group(1))


def _latest_version(ui: RunningUi, name: str) -> int | None:
    return campaigns.get_campaign(ui.api.ctx, name).latest_version


def test_a_new_campaign_starts_from_a_commented_example_that_validates(ui: RunningUi) -> None:
    browser = ui.browser(Role.VIEWER)
    page = browser.get("/ui/new")
    assert page.status_code == 200
    text = _textarea(page.text)
    assert text.startswith("# A new campaign") and "\nname: " in text
    checked = browser.post("/ui/spec/validate", {"spec": text}, htmx=True)
    assert checked.status_code == 200
    assert "valid</span> campaign <strong>bump-checkout-v4</strong>" in checked.text
    assert 'data-error-lines=""' in checked.text


def test_an_error_is_pinned_to_its_line_and_fixing_it_validates(ui: RunningUi) -> None:
    browser = ui.browser(Role.VIEWER)
    assert BROKEN.splitlines()[BROKEN_LINE - 1] == "    timeout: soon"
    checked = browser.post("/ui/spec/validate", {"spec": BROKEN}, htmx=True)
    assert checked.status_code == 200
    # The lines the gutter marks, and a link to the line with the path and the message.
    assert f'data-error-lines="{BROKEN_LINE}"' in checked.text
    link = re.search(
        r'<a href="#spec" class="at" data-line="(\d+)" data-column="(\d+)">', checked.text
    )
    assert link and link.groups() == (str(BROKEN_LINE), "14"), checked.text
    assert '<code class="path">steps[0].timeout</code>' in checked.text
    assert "soon" in checked.text and "invalid</span> 1 problem" in checked.text

    # Without script the whole page comes back: the text kept, the textarea marked invalid
    # and described by the list of errors.
    page = browser.post("/ui/spec/validate", {"spec": BROKEN})
    assert page.status_code == 200
    assert _textarea(page.text) == BROKEN
    assert 'aria-invalid="true"' in page.text
    assert 'aria-describedby="spec-help spec-errors"' in page.text
    assert 'id="spec-errors"' in page.text

    fixed = browser.post("/ui/spec/validate", {"spec": spec()}, htmx=True)
    assert "valid</span> campaign <strong>bump</strong>" in fixed.text
    expected = campaigns.validate_spec(spec(), executor=ui.api.ctx.settings.executor)
    assert expected.spec_hash and expected.spec_hash[:12] in fixed.text
    assert "1 step: <code>bump</code>" in fixed.text
    assert 'data-error-lines=""' in fixed.text and "invalid" not in fixed.text


def test_a_browsers_crlf_line_breaks_give_the_files_hash(ui: RunningUi) -> None:
    browser = ui.browser(Role.OPERATOR)
    answer = browser.post("/ui/spec/apply", {"spec": spec().replace("\n", "\r\n")}, htmx=True)
    assert answer.headers.get("hx-redirect") == "/ui/campaigns/bump", answer.text
    stored = campaigns.get_spec_version(ui.api.ctx, "bump", None)[1]
    assert stored.yaml_text == spec()


def test_the_plan_lists_what_happens_to_each_changeset(ui: RunningUi) -> None:
    shape = published_campaign(ui.api.ctx)
    browser = ui.browser(Role.VIEWER)
    answer = browser.post("/ui/spec/plan", {"spec": spec(changed=True)}, htmx=True)
    assert answer.status_code == 200, answer.text
    page = answer.text
    assert "Applying makes spec version 2 of <strong>bump</strong> (now at version 1)" in page
    assert "PR template (title, body, labels, reviewers, …): <strong>changed</strong>" in page
    assert "Selection (<code>on</code>, <code>exclude</code>): unchanged" in page
    # What the new version changes in the YAML.
    assert '<span class="del">-  title: &#34;ci: bump checkout&#34;</span>' in page
    assert '<span class="add">+  title: &#34;ci: checkout v4&#34;</span>' in page

    rows = dict(re.findall(r'<tr data-repo="([^"]+)" data-change="([^"]+)">', page))
    assert rows == {
        "acme/svc-0": "update_in_place",
        "acme/svc-1": "update_in_place",
        shape.merged_repo: "final",
        shape.unopened_repo: "not_opened",
    }
    svc0 = page[page.index('data-repo="acme/svc-0"') :].split("</tr>")[0]
    assert "<code>update_pr</code> <code>remove_labels</code>" in svc0
    assert "labels: shoal" in svc0 and "#1" in svc0
    assert "2 of 4 published changesets change at the next publish" in page
    assert "2 are updated in place (their commit stays)" in page
    totals = dict(
        re.findall(
            r'<tr data-operation="([^"]+)"><th scope="row"><code>[^<]+</code></th>'
            r'<td class="num">(\d+)</td>',
            page,
        )
    )
    assert totals == {"final": "1", "not_opened": "1", "remove_labels": "2", "update_pr": "2"}
    assert 'name="planned_hash"' not in page  # a viewer sees no Apply button
    assert "Applying needs the operator role" in page
    # Planning writes nothing.
    assert _latest_version(ui, "bump") == 1

    # Opened to edit another campaign: the plan says which one applying changes.
    renamed = browser.post("/ui/spec/plan", {"spec": spec("other"), "editing": "bump"}, htmx=True)
    assert "This spec names campaign <strong>other</strong>, not <strong>bump</strong>" in (
        renamed.text
    )
    assert "A new campaign: applying creates <strong>other</strong>" in renamed.text

    # The same spec again: nothing to apply.
    same = browser.post("/ui/spec/plan", {"spec": spec()}, htmx=True)
    assert "Nothing to apply: version 1 of <strong>bump</strong> already has this spec" in same.text


def test_apply_makes_the_next_version_as_the_signed_in_principal(ui: RunningUi) -> None:
    published_campaign(ui.api.ctx)
    browser = ui.browser(Role.OPERATOR)
    changed = spec(changed=True)
    planned = browser.post("/ui/spec/plan", {"spec": changed}, htmx=True)
    found = re.search(r'name="planned_hash" value="([0-9a-f]{64})"', planned.text)
    assert found, planned.text
    assert 'data-confirm="Apply spec version 2 of bump? 2 published pull request(s)' in planned.text

    applied = browser.post(
        "/ui/spec/apply", {"spec": changed, "planned_hash": found.group(1)}, htmx=True
    )
    assert applied.status_code == 200, applied.text
    assert applied.headers["hx-redirect"] == "/ui/campaigns/bump"
    campaign, version = campaigns.get_spec_version(ui.api.ctx, "bump", None)
    assert version.version == 2 and version.spec_hash == found.group(1)
    assert version.created_by == "token:test-operator"
    events = audit.list_events(
        ui.api.ctx, AuditFilter(campaign_id=campaign.id, action="spec.apply")
    )
    assert [(e.actor, e.outcome, e.spec_version) for e in events][-1] == (
        "token:test-operator",
        "created",
        2,
    )

    # The same spec again changes nothing, and says so.
    again = browser.post("/ui/spec/apply", {"spec": changed}, htmx=True)
    assert again.status_code == 200 and "hx-redirect" not in again.headers
    assert "Nothing applied: version 2 of campaign bump already has this spec" in again.text
    assert _latest_version(ui, "bump") == 2

    # Without script: a redirect to the campaign.
    third = browser.post("/ui/spec/apply", {"spec": spec()})
    assert third.status_code == 303 and third.headers["location"] == "/ui/campaigns/bump"
    assert _latest_version(ui, "bump") == 3


def test_apply_refuses_a_spec_changed_since_its_plan(ui: RunningUi) -> None:
    published_campaign(ui.api.ctx)
    browser = ui.browser(Role.OPERATOR)
    planned = campaigns.validate_spec(spec(changed=True), executor="local").spec_hash
    answer = browser.post(
        "/ui/spec/apply",
        {"spec": spec(changed=True).replace("Automated.", "Edited."), "planned_hash": planned},
        htmx=True,
    )
    assert answer.status_code == 409
    assert "changed since its plan" in answer.text
    assert _latest_version(ui, "bump") == 1


def test_an_invalid_spec_posted_to_apply_shows_its_errors_at_their_lines(ui: RunningUi) -> None:
    browser = ui.browser(Role.OPERATOR)
    answer = browser.post("/ui/spec/apply", {"spec": BROKEN}, htmx=True)
    assert answer.status_code == 200
    assert answer.headers["hx-retarget"] == "#spec-check"
    assert f'data-error-lines="{BROKEN_LINE}"' in answer.text
    page = browser.post("/ui/spec/plan", {"spec": BROKEN})
    assert page.status_code == 422 and 'aria-invalid="true"' in page.text
    assert _textarea(page.text) == BROKEN


def test_a_viewer_can_validate_and_plan_but_not_apply(ui: RunningUi) -> None:
    published_campaign(ui.api.ctx)
    viewer = ui.browser(Role.VIEWER)
    assert viewer.post("/ui/spec/validate", {"spec": spec()}, htmx=True).status_code == 200
    assert viewer.post("/ui/spec/plan", {"spec": spec(changed=True)}, htmx=True).status_code == 200
    refused = viewer.post("/ui/spec/apply", {"spec": spec(changed=True)}, htmx=True)
    assert refused.status_code == 403
    assert "needs the operator role" in refused.text
    assert viewer.post("/ui/spec/apply", {"spec": spec(changed=True)}).status_code == 403
    assert _latest_version(ui, "bump") == 1


def test_every_spec_post_needs_the_sessions_csrf_token(ui: RunningUi) -> None:
    browser = ui.browser(Role.ADMIN)
    for path in ("/ui/spec/validate", "/ui/spec/plan", "/ui/spec/apply"):
        missing = browser.http.post(path, data={"spec": spec()})
        assert missing.status_code == 403, path
        wrong = browser.http.post(path, data={"spec": spec(), "csrf_token": "x" * 32})
        assert wrong.status_code == 403, path
        cross = browser.http.post(
            path,
            data={"spec": spec(), "csrf_token": browser.csrf},
            headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        )
        assert cross.status_code == 403, path
    with httpx.Client(base_url=ui.url) as stranger:
        assert stranger.post("/ui/spec/validate", data={"spec": spec()}).status_code in (401, 403)
    assert campaigns.list_campaigns(ui.api.ctx) == []


HOSTILE = (
    spec("hostile")
    .replace(
        "description: Move workflows to actions/checkout@v4",
        'description: "<script>alert(1)</script>"',
    )
    .replace('title: "ci: bump checkout"', 'title: "<img src=x onerror=alert(2)>"')
)


def test_a_hostile_spec_is_shown_escaped(ui: RunningUi) -> None:
    browser = ui.browser(Role.OPERATOR)
    checked = browser.post("/ui/spec/validate", {"spec": HOSTILE}, htmx=True)
    assert "&lt;img src=x onerror=alert(2)&gt;" in checked.text
    assert "<img" not in checked.text
    # An error that quotes what was written.
    bad = browser.post(
        "/ui/spec/validate", {"spec": HOSTILE + "<script>x</script>: 1\n"}, htmx=True
    )
    assert "<script>" not in bad.text and "&lt;script&gt;" in bad.text

    assert browser.post("/ui/spec/apply", {"spec": HOSTILE}, htmx=True).status_code == 200
    edit = browser.get("/ui/campaigns/hostile/edit")
    assert edit.status_code == 200
    assert "<script>alert" not in edit.text and "<img src" not in edit.text
    assert _textarea(edit.text) == HOSTILE
    changed = HOSTILE.replace("alert(1)", "alert(3)")
    plan = browser.post("/ui/spec/plan", {"spec": changed}, htmx=True)
    assert "<script>" not in plan.text and "&lt;script&gt;alert(3)" in plan.text


def test_the_edit_page_starts_from_the_latest_version(ui: RunningUi) -> None:
    published_campaign(ui.api.ctx)
    browser = ui.browser(Role.OPERATOR)
    browser.post("/ui/spec/apply", {"spec": spec(changed=True)})
    page = browser.get("/ui/campaigns/bump/edit")
    assert page.status_code == 200
    assert _textarea(page.text) == spec(changed=True)
    assert "starting from spec version 2" in page.text
    assert 'name="editing" value="bump"' in page.text
    assert browser.get("/ui/campaigns/nope/edit").status_code == 404


def test_a_spec_over_the_limits_is_refused_with_a_clear_message(ui: RunningUi) -> None:
    browser = ui.browser(Role.OPERATOR)
    # Over the spec's 1 MiB but within the form's limit (urlencoded, it is over 1 MiB too):
    # the validation says how large it is, without script as with.
    padding = "# " + "<x> " * 100 + "\n"
    large = spec() + padding * (1_600_000 // len(padding))
    for htmx in (True, False):
        answer = browser.post("/ui/spec/validate", {"spec": large}, htmx=htmx)
        assert answer.status_code == 200, answer.text[:300]
        assert "spec is 1.6 MiB; the limit is 1 MiB" in answer.text
    # Over the spec routes' body limit: refused before it is read, in words.
    limit = ui.api.ctx.settings.api_max_spec_body_bytes
    huge = spec() + "#" * limit
    refused = browser.post("/ui/spec/apply", {"spec": huge}, htmx=True)
    assert refused.status_code == 413
    assert refused.headers["content-type"].startswith("text/plain")
    assert refused.text == (
        "the spec is too large: a spec form may carry 4 MiB at most "
        "(SHOAL_API_MAX_SPEC_BODY_BYTES); make the spec smaller"
    )
    assert campaigns.list_campaigns(ui.api.ctx) == []
    # Other pages keep the normal limit.
    other = browser.http.post(
        "/ui/sign-out", data={"csrf_token": browser.csrf, "pad": "x" * (2 << 20)}
    )
    assert other.status_code == 413 and "SHOAL_API_MAX_BODY_BYTES" in other.text
