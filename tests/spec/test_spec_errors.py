"""Malformed specs: each case asserts the exact messages an author sees, with positions."""

from __future__ import annotations

import json

import pytest

from shoal.spec import SpecInvalidError, SpecIssue, parse_spec

VALID = """\
name: bump
on:
  - org: acme
steps:
  - name: bump
    run: echo hi
changeset:
  title: Bump
"""


def with_step(extra: str) -> str:
    """VALID with `extra` lines added to the step, from line 7 on."""
    return VALID.replace("    run: echo hi\n", "    run: echo hi\n" + extra)


def alias_bomb() -> str:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for previous, name in zip("abcdef", "bcdefg", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    return "\n".join(lines) + "\n" + VALID


def rendered(text: str | bytes) -> list[str]:
    with pytest.raises(SpecInvalidError) as caught:
        parse_spec(text)
    return [issue.render() for issue in caught.value.issues]


CASES: list[tuple[str, str | bytes, list[str]]] = [
    (
        "yaml-syntax",
        "name: [a\n",
        [
            "invalid YAML: did not find expected ',' or ']', while parsing a flow sequence that"
            " starts at line 1, col 7 (line 2, col 1)"
        ],
    ),
    (
        "tab-indentation",
        "name: a\non:\n\t- org: acme\n",
        ["invalid YAML: a tab cannot indent YAML; use spaces (line 3, col 1)"],
    ),
    (
        "top-level-list",
        "- name: a\n- name: b\n",
        ["the spec must be a mapping of fields, got a list (line 1, col 1)"],
    ),
    (
        "comments-only",
        "# nothing here\n",
        ["spec is empty; expected a mapping with name, on, steps and changeset"],
    ),
    (
        "empty-document",
        "---\n",
        ["spec is empty; expected a mapping with name, on, steps and changeset"],
    ),
    (
        "two-documents",
        VALID + "---\nname: other\n",
        ["a spec is one YAML document; found a second one (line 9, col 1)"],
    ),
    (
        "duplicate-key",
        VALID + "name: again\n",
        ["name: duplicate key; the first one is at line 1, col 1 (line 9, col 1)"],
    ),
    (
        "unknown-top-level-field",
        VALID + "stepz: []\n",
        ["stepz: unknown field; did you mean 'steps'? (line 9, col 1)"],
    ),
    (
        "unknown-nested-field",
        with_step("    timout: 5m\n"),
        ["steps[0].timout: unknown field; did you mean 'timeout'? (line 7, col 5)"],
    ),
    (
        "nul-in-script-and-body",
        VALID.replace("run: echo hi", 'run: "printf \\0 > f"').replace(
            "title: Bump", 'title: Bump\n  body: "a\\0b"'
        ),
        [
            "steps[0].run: cannot contain a NUL character; to write one from a script, use"
            " printf '\\000' (line 6, col 10)",
            "changeset.body: cannot contain a NUL character; to write one from a script, use"
            " printf '\\000' (line 9, col 9)",
        ],
    ),
    (
        "unknown-field-without-close-match",
        with_step("    retries: 3\n"),
        [
            "steps[0].retries: unknown field; expected one of: name, image, run, env, secrets,"
            " timeout, if (line 7, col 5)"
        ],
    ),
    (
        "missing-required-field",
        VALID.replace("  title: Bump\n", "  body: text\n"),
        ["changeset: missing required field 'title' (the PR title) (line 7, col 1)"],
    ),
    (
        "wrong-type",
        VALID.replace("title: Bump", "title: [a, b]"),
        ["changeset.title: expected a string, got a list (line 8, col 10)"],
    ),
    (
        "number-where-string-expected",
        with_step("    env:\n      DEBUG: 1\n"),
        [
            "steps[0].env.DEBUG: expected a string, got the number 1; put it in quotes if you"
            " meant text (line 8, col 14)"
        ],
    ),
    (
        "bad-duration",
        with_step("    timeout: soon\n"),
        ["steps[0].timeout: expected a duration like 5m, got 'soon' (line 7, col 14)"],
    ),
    (
        "timeout-too-long",
        with_step("    timeout: 2h30m\n"),
        ["steps[0].timeout: 2h30m is longer than the 2h limit (line 7, col 14)"],
    ),
    (
        "bad-repo-ref",
        VALID.replace("- org: acme", "- repos: [acme/api, acme]"),
        [
            "on[0].repos[1]: 'acme' is not a repository reference; expected owner/repo or"
            " owner/repo@branch (line 3, col 23)"
        ],
    ),
    (
        "bad-branch-name",
        VALID + "  branch: shoal/..x\n",
        [
            "changeset.branch: 'shoal/..x' is not a valid git branch name (contains '..')"
            " (line 9, col 11)"
        ],
    ),
    (
        "duplicate-step-name",
        VALID.replace("steps:\n", "steps:\n  - name: bump\n    run: echo first\n"),
        ["steps[1].name: duplicate step name 'bump' (first used at steps[0]) (line 7, col 11)"],
    ),
    (
        "bad-env-var-names",
        with_step("    env: {1FOO: x, SHOAL_TOKEN: y}\n"),
        [
            "steps[0].env['1FOO']: '1FOO' is not a valid environment variable name; use"
            " letters, digits and '_', not starting with a digit (line 7, col 11)",
            "steps[0].env.SHOAL_TOKEN: 'SHOAL_TOKEN' uses the SHOAL_ prefix, which Shoal"
            " reserves for itself (line 7, col 20)",
        ],
    ),
    (
        "bad-image-reference",
        with_step("    image: Ghcr.io/Acme/Tools:latest\n"),
        [
            "steps[0].image: 'Ghcr.io/Acme/Tools:latest' is not a container image reference;"
            " expected [registry/]path[:tag][@sha256:<64 hex digits>] with a lowercase path,"
            " e.g. ghcr.io/acme/tools:1.2 or ghcr.io/acme/tools@sha256:<digest> (line 7, col 12)"
        ],
    ),
    (
        "bad-enum-value",
        VALID + "policy:\n  drift: yolo\n",
        [
            "policy.drift: expected 'overwrite', 'new_pr' or 'needs_human', got 'yolo'"
            " (line 10, col 10)"
        ],
    ),
    (
        "bad-commit-mode",
        VALID + "  commit: {mode: signed}\n",
        ["changeset.commit.mode: expected 'git' or 'api', got 'signed' (line 9, col 18)"],
    ),
    (
        "empty-on",
        VALID.replace("on:\n  - org: acme\n", "on: []\n"),
        ["on: must list at least one source (search, org, repos or installation) (line 2, col 5)"],
    ),
    (
        "source-with-two-kinds",
        VALID.replace("- org: acme", "- org: acme\n    search: x"),
        [
            "on[0]: a source cannot combine 'search' and 'org'; give each its own list item"
            " (line 3, col 5)"
        ],
    ),
    (
        "source-without-kind",
        VALID.replace("- org: acme", "- orgs: acme"),
        ["on[0]: a source needs exactly one of search, org, repos or installation (line 3, col 5)"],
    ),
    (
        "bad-reviewer",
        VALID + "  reviewers: [alice, acme/platform, a b]\n",
        ["changeset.reviewers[2]: 'a b' is not a GitHub login or org/team slug (line 9, col 37)"],
    ),
    (
        "custom-yaml-tag",
        VALID + "description: !include notes.md\n",
        ["description: unsupported YAML tag !include; remove it (line 9, col 14)"],
    ),
    (
        "undefined-alias",
        VALID + "description: *notes\n",
        ["alias *notes refers to no anchor &notes defined before it (line 9, col 14)"],
    ),
    (
        "secret-also-in-env",
        with_step("    env: {TOKEN: x}\n    secrets: [TOKEN]\n"),
        [
            "steps[0].env.TOKEN: 'TOKEN' is also listed in secrets; set it in one place only"
            " (line 7, col 18)"
        ],
    ),
    (
        "schema-version-from-the-future",
        "schema_version: 2\n" + VALID,
        [
            "schema_version: unsupported schema_version 2; this version of Shoal reads 1"
            " (line 1, col 17)"
        ],
    ),
    (
        "too-big",
        VALID + "description: |\n" + ("  " + "x" * 98 + "\n") * 12_000,
        ["spec is 1.2 MiB; the limit is 1 MiB"],
    ),
    (
        "too-deep",
        VALID + "description: " + "[" * 40 + "]" * 40 + "\n",
        [
            "description" + "[0]" * 31 + ": nesting is deeper than 32 levels (line 9, col 45)",
        ],
    ),
    (
        "invalid-utf8",
        VALID.encode().replace(b"Bump", b"B\xffump"),
        ["spec is not valid UTF-8 (byte 0xff) (line 8, col 11)"],
    ),
    (
        "alias-bomb",
        alias_bomb(),
        [
            "e[7][8][8][8][9]: spec expands to more than 100000 YAML nodes; check aliases"
            " (*name) that repeat large parts (line 1, col 44)"
        ],
    ),
    (
        "every-issue-in-position-order",
        VALID.replace("title: Bump", "title: [a]").replace("name: bump\n", "name: B\n", 1)
        + "policy: {drift: maybe, on_deselect: keep}\n",
        [
            "name: 'B' is not a valid campaign name; use 1-63 lowercase letters, digits and '-',"
            " starting with a letter and not ending with '-' (line 1, col 7)",
            "changeset.title: expected a string, got a list (line 8, col 10)",
            "policy.drift: expected 'overwrite', 'new_pr' or 'needs_human', got 'maybe'"
            " (line 9, col 17)",
            "policy.on_deselect: expected 'close' or 'detach', got 'keep' (line 9, col 37)",
        ],
    ),
    (
        "templates-that-cannot-render",
        with_step('    if: "{{ repo.language == }}"\n').replace(
            "title: Bump", "title: 'Bump {{ campaign.name | shout }}'\n  body: '{% if x %}open'"
        ),
        [
            "steps[0].if: is not a valid template (line 1 of the template): unexpected 'end of"
            " print statement' (line 7, col 9)",
            "changeset.title: is not a valid template (line 1 of the template): No filter named"
            " 'shout'. (line 9, col 10)",
            "changeset.body: is not a valid template (line 1 of the template): Unexpected end of"
            " template. Jinja was looking for the following tags: 'elif' or 'else' or 'endif'."
            " The innermost block that needs to be closed is 'if'. (line 10, col 9)",
        ],
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_spec_is_reported_precisely(text: str | bytes, expected: list[str]) -> None:
    assert rendered(text) == expected


def test_the_valid_base_parses() -> None:
    assert parse_spec(VALID).spec.name == "bump"


def test_error_names_the_source_and_lists_every_issue() -> None:
    text = with_step("    timeout: soon\n").replace("title: Bump", "title: 7")
    with pytest.raises(SpecInvalidError) as caught:
        parse_spec(text, source="specs/bump.yaml")
    assert str(caught.value) == (
        "specs/bump.yaml: invalid campaign spec (2 issues):\n"
        "  steps[0].timeout: expected a duration like 5m, got 'soon' (line 7, col 14)\n"
        "  changeset.title: expected a string, got the number 7; put it in quotes if you meant"
        " text (line 9, col 10)"
    )


def test_issue_serializes_for_json_output() -> None:
    issue = SpecIssue("steps[1].timeout", "expected a duration like 5m, got 'soon'", 14, 14)
    assert json.loads(json.dumps(issue.to_dict())) == {
        "path": "steps[1].timeout",
        "message": "expected a duration like 5m, got 'soon'",
        "line": 14,
        "column": 14,
    }


def test_document_level_issue_renders_without_path() -> None:
    assert SpecIssue("", "spec is empty", None, None).render() == "spec is empty"


def test_syntax_error_source_is_kept_for_yaml_level_failures() -> None:
    with pytest.raises(SpecInvalidError) as caught:
        parse_spec("- a\n", source="x.yaml")
    assert str(caught.value).startswith("x.yaml: invalid campaign spec (1 issue):")
