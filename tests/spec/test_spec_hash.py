"""spec_hash: the same for every way of writing a campaign, different for every real change."""

from __future__ import annotations

import hashlib
import json

import pytest

from shoal.spec import parse_spec

BASE = """\
name: bump-checkout-v4
description: Move workflows to actions/checkout@v4
on:
  - org: acme
    topics: [python, ci]
  - repos: [acme/web@develop, acme/api]
exclude:
  - repo: "acme/legacy-*"
steps:
  - name: bump
    run: sed -i 's/checkout@v3/checkout@v4/g' .github/workflows/*.yml
    env: {LC_ALL: C}
    secrets: [NPM_TOKEN, GH_PACKAGES]
    timeout: 5m
changeset:
  title: "ci: bump actions/checkout to v4"
  labels: [dependencies, ci]
  reviewers: [alice, acme/platform]
policy:
  drift: overwrite
"""

SAME = {
    "reordered-keys": """\
policy: {drift: overwrite}
changeset:
  reviewers: [alice, acme/platform]
  labels: [dependencies, ci]
  title: "ci: bump actions/checkout to v4"
steps:
  - timeout: 5m
    secrets: [NPM_TOKEN, GH_PACKAGES]
    env: {LC_ALL: C}
    run: sed -i 's/checkout@v3/checkout@v4/g' .github/workflows/*.yml
    name: bump
exclude:
  - repo: "acme/legacy-*"
on:
  - topics: [python, ci]
    org: acme
  - repos: [acme/web@develop, acme/api]
description: Move workflows to actions/checkout@v4
name: bump-checkout-v4
""",
    "comments-and-whitespace": "# A campaign\n\n"
    + BASE.replace("name: bump-checkout-v4", "name:    bump-checkout-v4   # the slug")
    .replace("steps:\n", "\n\nsteps:   # in order\n")
    .replace("\n", "  \n"),
    "flow-style": (
        '{name: bump-checkout-v4, description: "Move workflows to actions/checkout@v4", '
        "on: [{org: acme, topics: [python, ci]}, {repos: [acme/web@develop, acme/api]}], "
        "exclude: [{repo: acme/legacy-*}], steps: [{name: bump, "
        "run: \"sed -i 's/checkout@v3/checkout@v4/g' .github/workflows/*.yml\", "
        "env: {LC_ALL: C}, secrets: [NPM_TOKEN, GH_PACKAGES], timeout: 5m}], "
        'changeset: {title: "ci: bump actions/checkout to v4", labels: [dependencies, ci], '
        "reviewers: [alice, acme/platform]}, policy: {drift: overwrite}}\n"
    ),
    "quoted-scalars": BASE.replace("name: bump-checkout-v4", "'name': \"bump-checkout-v4\"")
    .replace("timeout: 5m", 'timeout: "5m"')
    .replace("org: acme", "org: 'acme'")
    .replace("drift: overwrite", '"drift": "overwrite"'),
    "block-scalar-script": BASE.replace(
        "    run: sed -i 's/checkout@v3/checkout@v4/g' .github/workflows/*.yml\n",
        "    run: |\n      sed -i 's/checkout@v3/checkout@v4/g' .github/workflows/*.yml\n\n",
    ),
    "explicit-defaults": BASE.replace(
        "name: bump-checkout-v4\n", "schema_version: 1\nname: bump-checkout-v4\n"
    )
    .replace("    timeout: 5m\n", "    timeout: 5m\n    image: null\n    if: null\n")
    .replace(
        "    topics: [python, ci]\n",
        "    topics: [python, ci]\n    visibility: all\n    include_archived: false\n"
        "    include_forks: false\n    names: []\n",
    )
    .replace(
        '  title: "ci: bump actions/checkout to v4"\n',
        '  title: "ci: bump actions/checkout to v4"\n'
        "  branch: shoal/bump-checkout-v4\n  base: null\n  body: ''\n"
        '  commit: {message: "ci: bump actions/checkout to v4", '
        "author: {name: Shoal, email: shoal@localhost}, mode: git}\n"
        "  assignees: []\n  draft: false\n  auto_merge: {enabled: false, method: squash}\n",
    )
    .replace(
        "  drift: overwrite\n",
        "  drift: overwrite\n  on_deselect: close\n  delete_branch: never\n"
        "  publish: {max_prs_per_day_per_org: null, max_open_prs: null}\n",
    ),
    "sets-reordered-and-duplicated": BASE.replace(
        "labels: [dependencies, ci]", "labels: [ci, dependencies, ci]"
    )
    .replace("reviewers: [alice, acme/platform]", "reviewers: [acme/platform, alice, alice]")
    .replace("secrets: [NPM_TOKEN, GH_PACKAGES]", "secrets: [GH_PACKAGES, NPM_TOKEN]")
    .replace("topics: [python, ci]", "topics: [ci, python]")
    .replace("repos: [acme/web@develop, acme/api]", "repos: [acme/api, acme/web@develop]"),
    "duration-spellings": BASE.replace("timeout: 5m", "timeout: 300"),
    "title-padding": BASE.replace(
        'title: "ci: bump actions/checkout to v4"', 'title: "  ci: bump actions/checkout to v4 "'
    ),
    "crlf-line-endings": BASE.replace("\n", "\r\n"),
    "anchors-and-extension-keys": "x-env: &env {LC_ALL: C}\n" + BASE.replace("{LC_ALL: C}", "*env"),
    "merge-key": BASE.replace(
        "    env: {LC_ALL: C}\n    secrets: [NPM_TOKEN, GH_PACKAGES]\n",
        "    <<: {env: {LC_ALL: C}, secrets: [NPM_TOKEN, GH_PACKAGES], timeout: 1h}\n",
    ),
}

DIFFERENT = {
    "run-text": ("checkout@v4/g'", "checkout@v4/'"),
    "timeout": ("timeout: 5m", "timeout: 6m"),
    "env-value": ("{LC_ALL: C}", "{LC_ALL: C.UTF-8}"),
    "secret-added": ("[NPM_TOKEN, GH_PACKAGES]", "[NPM_TOKEN, GH_PACKAGES, PYPI]"),
    "label-added": ("[dependencies, ci]", "[dependencies, ci, security]"),
    "reviewer-changed": ("[alice, acme/platform]", "[alice, acme/security]"),
    "title": ('to v4"', 'to v4.1"'),
    "drift-policy": ("drift: overwrite", "drift: new_pr"),
    "delete-branch": ("drift: overwrite", "drift: overwrite\n  delete_branch: on_close"),
    "source-filter": ("topics: [python, ci]", "topics: [python]"),
    "repo-branch": ("acme/web@develop", "acme/web@main"),
    "exclude-rule": ('repo: "acme/legacy-*"', 'repo: "acme/old-*"'),
    "name": ("name: bump-checkout-v4", "name: bump-checkout-v5"),
    "description": ("Move workflows", "Moves workflows"),
    "draft": ("  title:", "  draft: true\n  title:"),
    "commit-mode": ("  title:", "  commit: {mode: api}\n  title:"),
    "step-order": (
        "steps:\n",
        "steps:\n  - name: first\n    run: 'true'\n",
    ),
    "image-added": ("    timeout: 5m\n", "    timeout: 5m\n    image: alpine:3.20\n"),
}

# A changed image (its tag or its digest) is a new spec: a new version, executed again.
IMAGED = BASE.replace(
    "    timeout: 5m\n", "    timeout: 5m\n    image: alpine:3.20@sha256:" + "0" * 64 + "\n"
)
IMAGE_CHANGES = {
    "tag": ("alpine:3.20@", "alpine:3.21@"),
    "digest": ("sha256:" + "0" * 64, "sha256:" + "1" * 64),
    "digest-dropped": ("@sha256:" + "0" * 64, ""),
}


def spec_hash(text: str | bytes) -> str:
    return parse_spec(text).spec_hash


@pytest.mark.parametrize("text", list(SAME.values()), ids=list(SAME))
def test_same_campaign_written_differently_has_the_same_hash(text: str) -> None:
    assert spec_hash(text) == spec_hash(BASE)


@pytest.mark.parametrize(("old", "new"), list(DIFFERENT.values()), ids=list(DIFFERENT))
def test_semantic_change_gives_a_new_hash(old: str, new: str) -> None:
    assert old in BASE
    assert spec_hash(BASE.replace(old, new, 1)) != spec_hash(BASE)


@pytest.mark.parametrize(("old", "new"), list(IMAGE_CHANGES.values()), ids=list(IMAGE_CHANGES))
def test_a_changed_image_gives_a_new_hash(old: str, new: str) -> None:
    assert old in IMAGED
    assert spec_hash(IMAGED.replace(old, new, 1)) != spec_hash(IMAGED)


def test_a_spec_without_image_keeps_its_hash() -> None:
    # The hash this spec had before steps could name an image: specs that set none keep
    # their versions (and their PRs their commits) across the upgrade.
    assert spec_hash(BASE) == "c93002fb7e06a6a91d083014ea04e4fedebf1af83d44b676d55db5b3e8362709"


def test_step_order_matters() -> None:
    two = BASE.replace("steps:\n", "steps:\n  - name: first\n    run: 'true'\n")
    swapped = BASE.replace(
        "    timeout: 5m\n", "    timeout: 5m\n  - name: first\n    run: 'true'\n"
    )
    assert spec_hash(two) != spec_hash(swapped)


def test_hash_is_sha256_of_the_canonical_json() -> None:
    parsed = parse_spec(BASE)
    assert parsed.spec_hash == hashlib.sha256(parsed.canonical_json.encode()).hexdigest()
    assert parsed.yaml_text == BASE


def test_bytes_and_text_give_the_same_hash() -> None:
    assert spec_hash(BASE.encode()) == spec_hash(BASE)
    assert spec_hash(b"\xef\xbb\xbf" + BASE.encode()) == spec_hash(BASE)
    assert spec_hash("\ufeff" + BASE) == spec_hash(BASE)


def test_canonical_json_is_compact_sorted_and_normalized() -> None:
    canonical = parse_spec(BASE).canonical_json
    data = json.loads(canonical)
    assert canonical == json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert data["schema_version"] == 1
    assert data["on"][0]["topics"] == ["ci", "python"]
    assert data["on"][1]["repos"] == ["acme/api", "acme/web@develop"]
    step = data["steps"][0]
    assert step["timeout"] == 300
    assert step["secrets"] == ["GH_PACKAGES", "NPM_TOKEN"]
    assert step["run"].endswith(".yml\n")
    changeset = data["changeset"]
    assert changeset["branch"] == "shoal/bump-checkout-v4"
    assert changeset["commit"] == {
        "message": "ci: bump actions/checkout to v4",
        "author": {"name": "Shoal", "email": "shoal@localhost"},
        "mode": "git",
    }
    assert changeset["labels"] == ["ci", "dependencies"]
    assert changeset["reviewers"] == ["acme/platform", "alice"]
    assert data["policy"] == {
        "drift": "overwrite",
        "base_moved_interval": None,
        "on_deselect": "close",
        "delete_branch": "never",
        "publish": {"max_prs_per_day_per_org": None, "max_open_prs": None},
    }


def test_canonical_json_parses_back_to_the_same_hash() -> None:
    parsed = parse_spec(BASE)
    assert spec_hash(parsed.canonical_json) == parsed.spec_hash
