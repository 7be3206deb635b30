"""Property: however a spec is laid out as YAML, it hashes the same, and its canonical JSON
parses back to the same hash."""

from __future__ import annotations

import json
import random
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal.spec import parse_spec

SLUGS = st.sampled_from(["bump", "fix-ci", "python-312", "a1", "rename-master"])
LOGINS = st.sampled_from(["alice", "bob", "acme-bot", "Carol9"])
TEAMS = st.sampled_from(["acme/platform", "acme/sec_ops"])
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=40)
LINES = st.lists(TEXT, max_size=3).map("\n".join)
DURATIONS = st.one_of(
    st.integers(1, 7200),
    st.sampled_from(["30s", "5m", "1h", "1h30m", "2h", "90m", "1m1s"]),
)
ENV_NAMES = st.sampled_from(["LC_ALL", "DEBUG", "_X", "PATH_EXTRA", "TZ"])


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.nothing(), strategy)


sources = st.one_of(
    st.builds(lambda q: {"search": q}, st.sampled_from(["org:acme", "topic:ci language:go"])),
    st.fixed_dictionaries(
        {"org": LOGINS},
        optional={
            "topics": st.lists(st.sampled_from(["ci", "python", "web-1"]), max_size=3),
            "visibility": st.sampled_from(["all", "public", "private", "internal"]),
            "include_archived": st.booleans(),
            "names": st.lists(st.sampled_from(["svc-*", "api", "*-lib"]), max_size=2),
        },
    ),
    st.builds(
        lambda repos: {"repos": repos},
        st.lists(st.sampled_from(["acme/api", "acme/web@develop", "o/r.js"]), min_size=1),
    ),
    st.just({"installation": True}),
)

exclude_rules = st.fixed_dictionaries(
    {"archived": st.booleans()},
    optional={"repo": st.sampled_from(["acme/legacy-*", "*/sandbox"]), "fork": st.booleans()},
)


@st.composite
def steps(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(SLUGS, min_size=1, max_size=3, unique=True))
    return [
        draw(
            st.fixed_dictionaries(
                {"name": st.just(name), "run": LINES.filter(lambda s: s.strip() != "")},
                optional={
                    "timeout": DURATIONS,
                    "env": st.dictionaries(ENV_NAMES, TEXT.filter(lambda s: "\x00" not in s)),
                    "secrets": st.lists(st.sampled_from(["NPM_TOKEN", "PYPI"]), max_size=2),
                    "if": st.just("{{ repo.language == 'Go' }}"),
                    "image": st.sampled_from(
                        [None, "alpine:3.20", "ghcr.io/acme/tools@sha256:" + "ab" * 32]
                    ),
                },
            )
        )
        for name in names
    ]


specs = st.fixed_dictionaries(
    {
        "name": SLUGS,
        "on": st.lists(sources, min_size=1, max_size=3),
        "steps": steps(),
        "changeset": st.fixed_dictionaries(
            {"title": TEXT.filter(lambda s: s.strip() != "" and "\n" not in s and "\r" not in s)},
            optional={
                "body": LINES,
                "labels": st.lists(st.sampled_from(["ci", "deps", "team: x"]), max_size=3),
                "reviewers": st.lists(st.one_of(LOGINS, TEAMS), max_size=3),
                "assignees": st.lists(LOGINS, max_size=2),
                "draft": st.booleans(),
                "auto_merge": st.fixed_dictionaries(
                    {}, optional={"enabled": st.booleans(), "method": st.just("rebase")}
                ),
            },
        ),
    },
    optional={
        "description": LINES,
        "exclude": st.lists(exclude_rules, max_size=2),
        "policy": st.fixed_dictionaries(
            {},
            optional={
                "drift": st.sampled_from(["overwrite", "new_pr", "needs_human"]),
                "publish": st.fixed_dictionaries(
                    {}, optional={"max_open_prs": st.integers(1, 1000)}
                ),
            },
        ),
    },
)


def shuffled(value: Any, rng: random.Random) -> Any:
    """The same data with every mapping's keys in a random order."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {key: shuffled(item, rng) for key, item in items}
    if isinstance(value, list):
        return [shuffled(item, rng) for item in value]
    return value


def dump(data: Any, rng: random.Random) -> str:
    return yaml.safe_dump(
        shuffled(data, rng),
        sort_keys=False,
        allow_unicode=rng.choice([True, False]),
        default_flow_style=rng.choice([True, False, None]),
        indent=rng.choice([2, 4]),
        width=rng.choice([40, 80, 10_000]),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs, rng=st.randoms(use_true_random=False))
def test_layout_does_not_change_the_hash(spec: dict[str, Any], rng: random.Random) -> None:
    first = parse_spec(dump(spec, rng))
    assert parse_spec(dump(spec, rng)).spec_hash == first.spec_hash

    round_trip = parse_spec(yaml.safe_dump(json.loads(first.canonical_json)))
    assert round_trip.spec_hash == first.spec_hash
    assert round_trip.canonical_json == first.canonical_json
