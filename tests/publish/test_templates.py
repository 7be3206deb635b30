"""PR titles and bodies from the spec's templates: the context, the one-line title, the
marker and its round trip, errors naming the field, and the body limit."""

from __future__ import annotations

import time
from typing import Any

import pytest

from shoal.domain.errors import InvalidInputError
from shoal.domain.executions import DiffFile, FileStatus
from shoal.publish.templates import (
    BODY_LIMIT,
    TITLE_LIMIT,
    TRUNCATION_NOTE,
    ShoalMarker,
    TemplateRenderError,
    parse_marker,
    pull_request_context,
    render_pull_request,
)

HASH = "0123456789abcdef" * 4
MARKER = ShoalMarker(42, "bump-checkout", 3, HASH)
FILES = (
    DiffFile(".github/workflows/ci.yml", None, FileStatus.MODIFIED, 2, 1, False, 120),
    DiffFile("docs/new.md", None, FileStatus.ADDED, 5, 0, False, 40),
    DiffFile("logo.png", None, FileStatus.DELETED, 0, 0, True, 900),
)


def context(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "repo": "acme/widgets",
        "repo_meta": {
            "default_branch": "main",
            "base_branch": "develop",
            "language": "Python",
            "topics": ["core", "api"],
            "visibility": "private",
            "archived": False,
            "fork": False,
        },
        "campaign_id": 42,
        "campaign_name": "bump-checkout",
        "campaign_description": "Move to actions/checkout v4.",
        "spec_version": 3,
        "spec_hash": HASH,
        "files": FILES,
    }
    return pull_request_context(**{**values, **overrides})


def test_every_context_field_renders() -> None:
    title = "[{{ campaign.name }}] {{ repo.full_name }} v{{ spec.version }}"
    body = (
        "{{ repo.owner }}/{{ repo.name }} on {{ repo.default_branch }} "
        "(base {{ repo.base_branch }}), {{ repo.language }}, {{ repo.topics | join(',') }}, "
        "{{ repo.visibility }}\n"
        "Campaign #{{ campaign.id }}: {{ campaign.description }} spec {{ spec.hash[:12] }}\n"
        "{% for f in diff.files %}- {{ f.status }} {{ f.path }} +{{ f.added }} -{{ f.deleted }}"
        "{% if f.binary %} (binary){% endif %}\n{% endfor %}"
        "{{ diff.files_changed }} files, +{{ diff.lines_added }} -{{ diff.lines_deleted }}"
    )
    rendered = render_pull_request(title, body, context())
    assert rendered.title == "[bump-checkout] acme/widgets v3"
    assert rendered.body == (
        "acme/widgets on main (base develop), Python, core,api, private\n"
        "Campaign #42: Move to actions/checkout v4. spec 0123456789ab\n"
        "- modified .github/workflows/ci.yml +2 -1\n"
        "- added docs/new.md +5 -0\n"
        "- deleted logo.png +0 -0 (binary)\n"
        "3 files, +7 -1\n\n" + MARKER.comment()
    )


def test_output_is_not_html_escaped() -> None:
    rendered = render_pull_request("a <b> & c", "{{ '<details>&amp;' }}", context())
    assert rendered.title == "a <b> & c"
    assert rendered.body.startswith("<details>&amp;\n\n")


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("  Bump\n  {{ repo.name }}\t now ", "Bump widgets now"),
        ("{{ 'x' * 300 }}", "x" * (TITLE_LIMIT - 1) + "…"),
        ("{{ 'x' * 256 }}", "x" * 256),
    ],
    ids=["lines-joined-and-trimmed", "cut-at-256", "exactly-256"],
)
def test_title_is_one_trimmed_line_of_at_most_256(template: str, expected: str) -> None:
    title = render_pull_request(template, "", context()).title
    assert title == expected
    assert len(title) <= TITLE_LIMIT


def test_marker_round_trip() -> None:
    body = render_pull_request("t", "Hello", context()).body
    assert body.endswith(
        f"\n\n<!-- shoal: campaign=42 name=bump-checkout spec-version=3 spec-hash={HASH} -->"
    )
    assert parse_marker(body) == MARKER
    # Someone edits the description around the marker: it still links the PR.
    assert parse_marker("Edited by a human\n\n" + body + "\n\nthanks!") == MARKER
    assert parse_marker(render_pull_request("t", "", context()).body) == MARKER


def test_a_marker_written_by_the_template_does_not_win() -> None:
    fake = ShoalMarker(1, "other", 9, "f" * 64).comment()
    body = render_pull_request("t", fake, context()).body
    assert parse_marker(body) == MARKER


@pytest.mark.parametrize(
    "body",
    [
        "no marker here",
        "<!-- shoal: campaign=x name=a spec-version=1 spec-hash=ab -->",
        "<!-- shoal: campaign=1 name=a spec-hash=ab -->",
        "<!-- a comment -->",
    ],
    ids=["none", "non-numeric-id", "field-missing", "other-comment"],
)
def test_bodies_without_a_valid_marker(body: str) -> None:
    assert parse_marker(body) is None


def test_marker_values_must_be_bare_words() -> None:
    with pytest.raises(ValueError, match="marker"):
        ShoalMarker(1, "two words", 1, HASH)
    with pytest.raises(ValueError, match="marker"):
        ShoalMarker(1, "x", 1, "-->")


@pytest.mark.parametrize(
    ("title", "body", "field", "message"),
    [
        ("{{ repo.nope }}", "", "title", "has no attribute 'nope'"),
        ("ok", "{{ missing }}", "body", "'missing' is undefined"),
        ("ok", "line one\n{% if %}", "body", "line 2: Expected an expression"),
        ("{% for x in %}", "", "title", "line 1:"),
        ("ok", "{{ 1 / 0 }}", "body", "ZeroDivisionError: division by zero"),
        ("ok", "{{ repo.topics.append('x') }}", "body", "SecurityError"),
        ("ok", "{{ 'x' * 10 ** 7 }}", "body", "the template's output exceeds 256 KiB"),
        ("{{ 2 ** 100000 }}", "", "title", "the exponent 100000 is too large"),
        ("{{ '' }}", "", "title", "renders to an empty title"),
    ],
    ids=[
        "title-undefined-attribute",
        "body-undefined-name",
        "body-syntax-error",
        "title-syntax-error",
        "runtime-error",
        "context-is-immutable",
        "huge-string",
        "huge-power",
        "empty-title",
    ],
)
def test_template_errors_name_the_field(title: str, body: str, field: str, message: str) -> None:
    with pytest.raises(TemplateRenderError) as raised:
        render_pull_request(title, body, context())
    error = raised.value
    assert error.field == field
    assert error.details["field"] == field
    assert error.code == "template_invalid"
    assert not error.retryable
    assert error.message.startswith(f"changeset.{field} template")
    assert message in error.message


def test_long_body_is_cut_with_a_note_and_keeps_its_marker() -> None:
    body = render_pull_request(
        "t", "{% for i in range(20000) %}line {{ i }}\n{% endfor %}", context()
    ).body
    assert len(body) <= BODY_LIMIT
    assert body.endswith(TRUNCATION_NOTE + "\n\n" + MARKER.comment())
    kept = body.removesuffix(TRUNCATION_NOTE + "\n\n" + MARKER.comment())
    assert kept.startswith("line 0\nline 1\n")
    assert kept.split("\n")[-1].startswith("line ")  # cut at a line break, not mid-line
    assert len(kept) > BODY_LIMIT - 3_000
    assert parse_marker(body) == MARKER


def test_body_that_fits_exactly_is_not_cut() -> None:
    room = BODY_LIMIT - len("\n\n" + MARKER.comment())
    body = render_pull_request("t", f"{{{{ 'y' * {room} }}}}", context()).body
    assert len(body) == BODY_LIMIT
    assert TRUNCATION_NOTE not in body
    one_more = render_pull_request("t", f"{{{{ 'y' * {room + 1} }}}}", context()).body
    assert len(one_more) <= BODY_LIMIT
    assert TRUNCATION_NOTE in one_more


def test_rendering_stops_once_far_past_the_limit() -> None:
    # 100,000 x 1,000 characters would be 100 MB; rendering stops after a few hundred KB.
    started = time.monotonic()
    body = render_pull_request(
        "t", "{% for i in range(100000) %}{{ 'z' * 1000 }}{% endfor %}", context()
    ).body
    assert time.monotonic() - started < 5
    assert len(body) <= BODY_LIMIT
    assert TRUNCATION_NOTE in body


def test_context_without_campaign_or_spec_is_refused() -> None:
    incomplete = {k: v for k, v in context().items() if k != "spec"}
    with pytest.raises(InvalidInputError, match=r"spec\.version"):
        render_pull_request("t", "b", incomplete)


def test_rendered_pull_request_unpacks_as_title_and_body() -> None:
    title, body = render_pull_request("T {{ spec.version }}", "B", context())
    assert (title, body.split("\n")[0]) == ("T 3", "B")
