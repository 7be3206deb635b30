"""Table tests for the value rules: durations, git branch names, names, defaults."""

from __future__ import annotations

import pydantic
import pytest

from shoal.spec import (
    CampaignSpec,
    InstallationSource,
    OrgSource,
    ReposSource,
    SearchSource,
    SpecInvalidError,
    format_duration,
    parse_duration,
    parse_spec,
)
from shoal.spec.names import (
    git_branch_problem,
    image_name,
    is_image_reference,
    is_pinned_image,
)

MINIMAL = """\
name: bump
on: [{installation: true}]
steps: [{name: s, run: 'true'}]
changeset: {title: Bump}
"""


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h", 3600), ("1h30m", 5400), ("1h0m5s", 3605), ("90m", 5400)],
    ids=["seconds", "minutes", "hours", "hours-minutes", "all-units", "minutes-over-an-hour"],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text",
    ["", "5", "5 m", "m", "1m1h", "5M", "1.5h", "-5m", "5m ", "1d"],
    ids=[
        "empty",
        "no-unit",
        "space",
        "unit-only",
        "wrong-order",
        "upper-case",
        "fraction",
        "negative",
        "trailing-space",
        "days",
    ],
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="expected a duration like 5m"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (59, "59s"), (5400, "1h30m"), (3601, "1h1s")]
)
def test_format_duration_round_trips(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("shoal/bump", None),
        ("feature/a.b-c_d", None),
        ("shoal/..x", "contains '..'"),
        ("a b", "contains a space"),
        ("a~1", "contains '~'"),
        ("a^", "contains '^'"),
        ("a:b", "contains ':'"),
        ("a?", "contains '?'"),
        ("a*", "contains '*'"),
        ("a[b", "contains '['"),
        ("a\\b", "contains '\\\\'"),
        ("a\tb", "contains a control character"),
        ("shoal/", "starts or ends with '/'"),
        ("/shoal", "starts or ends with '/'"),
        ("a//b", "contains '//'"),
        ("a.", "ends with '.'"),
        ("a/.hidden", "part '.hidden' starts with '.' or ends with '.lock'"),
        ("a/b.lock", "part 'b.lock' starts with '.' or ends with '.lock'"),
        ("a@{1}", "contains '@{'"),
        ("@", "reserved by git"),
        ("HEAD", "reserved by git"),
        ("-x", "starts with '-'"),
        ("", "it is empty"),
        ("x" * 256, "longer than 255 bytes"),
    ],
    ids=lambda value: repr(value)[:20] if isinstance(value, str) else "ok",
)
def test_git_branch_rules(name: str, problem: str | None) -> None:
    assert git_branch_problem(name) == problem


@pytest.mark.parametrize(
    ("reference", "pinned"),
    [
        ("alpine@sha256:" + "0" * 64, True),
        ("ghcr.io/acme/tools@sha256:" + "ab" * 32, True),
        ("localhost:5000/a/b:1.2@sha256:" + "0" * 64, True),
        ("python:3.12-slim@sha256:" + "f" * 64, True),
        ("alpine:3.20", False),
        ("alpine@sha256:" + "0" * 63, False),
        ("alpine@sha256:" + "G" * 64, False),
        ("Alpine@sha256:" + "0" * 64, False),
    ],
    ids=[
        "plain",
        "registry-path",
        "port-and-tag",
        "tag-and-digest",
        "tag-only",
        "short-digest",
        "not-hex",
        "upper-case-path",
    ],
)
def test_image_must_be_pinned_by_digest(reference: str, pinned: bool) -> None:
    assert is_pinned_image(reference) is pinned


@pytest.mark.parametrize(
    ("reference", "valid", "name"),
    [
        ("alpine", True, "alpine"),
        ("alpine:3.20", True, "alpine"),
        ("localhost:5000/a/b:1.2", True, "localhost:5000/a/b"),
        ("localhost:5000/a/b", True, "localhost:5000/a/b"),
        ("ghcr.io/acme/tools:1@sha256:" + "ab" * 32, True, "ghcr.io/acme/tools"),
        ("registry.example.com/team/img__x-y.z", True, "registry.example.com/team/img__x-y.z"),
        ("Alpine:3", False, None),
        ("alpine:", False, None),
        ("alpine:-x", False, None),
        ("alpine@sha256:abc", False, None),
        ("alpine:" + "x" * 129, False, None),
        ("-bad.io/a", False, None),
        ("a//b", False, None),
        ("a/" + "b" * 260, False, None),
        ("alpine; rm -rf /", False, None),
    ],
    ids=lambda value: repr(value)[:24] if isinstance(value, str) else str(value),
)
def test_image_reference_syntax(reference: str, valid: bool, name: str | None) -> None:
    assert is_image_reference(reference) is valid
    if name is not None:
        assert image_name(reference) == name


def test_defaults_are_filled_in() -> None:
    spec = parse_spec(MINIMAL).spec
    assert spec.schema_version == 1
    assert spec.description == ""
    assert spec.exclude == []
    step = spec.steps[0]
    assert (step.timeout, step.env, step.secrets, step.image, step.if_) == (600, {}, [], None, None)
    assert step.run == "true\n"
    changeset = spec.changeset
    assert changeset.branch == "shoal/bump"
    assert changeset.base is None
    assert changeset.commit.message == "Bump"
    assert (changeset.commit.author.name, changeset.commit.author.email) == (
        "Shoal",
        "shoal@localhost",
    )
    assert changeset.commit.mode == "git"
    assert (changeset.draft, changeset.auto_merge.enabled, changeset.auto_merge.method) == (
        False,
        False,
        "squash",
    )
    assert (spec.policy.drift, spec.policy.on_deselect) == ("needs_human", "close")
    assert spec.policy.publish.max_prs_per_day_per_org is None


def test_sources_get_their_own_models() -> None:
    text = MINIMAL.replace(
        "[{installation: true}]",
        "[{installation: true}, {search: 'org:acme'}, {org: acme}, {repos: [a/b]}]",
    )
    kinds = [type(source) for source in parse_spec(text).spec.on]
    assert kinds == [InstallationSource, SearchSource, OrgSource, ReposSource]


def test_extension_keys_hold_anchors_and_are_ignored() -> None:
    text = "x-shared: &run 'make fix'\n" + MINIMAL.replace("run: 'true'", "run: *run")
    parsed = parse_spec(text)
    assert parsed.spec.steps[0].run == "make fix\n"
    assert "x-shared" not in parsed.canonical_json


def test_keys_keep_their_text_even_when_yaml_11_reads_them_as_booleans() -> None:
    # `on`, `yes`, `off` are booleans in YAML 1.1; as keys they must stay names.
    with pytest.raises(SpecInvalidError) as caught:
        parse_spec(MINIMAL + "yes: 1\n")
    assert [issue.path for issue in caught.value.issues] == ["yes"]


def test_dates_stay_text() -> None:
    spec = parse_spec(MINIMAL.replace("title: Bump", "title: 2024-01-01")).spec
    assert spec.changeset.title == "2024-01-01"


def test_model_is_frozen_and_validates_directly() -> None:
    spec = parse_spec(MINIMAL).spec
    with pytest.raises(pydantic.ValidationError):
        spec.name = "other"  # type: ignore[misc]
    again = CampaignSpec.model_validate(spec.model_dump(by_alias=True))
    assert again == spec


def test_model_reports_duplicate_steps_without_the_parser() -> None:
    data = {
        "name": "bump",
        "on": [{"installation": True}],
        "steps": [{"name": "a", "run": "x"}, {"name": "a", "run": "y"}],
        "changeset": {"title": "t"},
    }
    with pytest.raises(pydantic.ValidationError) as caught:
        CampaignSpec.model_validate(data)
    (error,) = caught.value.errors()
    assert error["loc"] == ("steps", 1, "name")
    assert error["msg"] == "duplicate step name 'a' (first used at steps[0])"


def test_commit_mode_api_is_read_and_keeps_the_author_default() -> None:
    text = MINIMAL.replace("{title: Bump}", "{title: Bump, commit: {mode: api}}")
    assert text != MINIMAL
    commit = parse_spec(text).spec.changeset.commit
    assert (commit.mode, commit.author.name) == ("api", "Shoal")
