"""Attack: a campaign author writes PR title, body and `if:` templates that make huge strings
(`center`, `format`, `~`, `%`, `join`, `replace`, loops) or run for ever. The publish request
renders nothing (it answers at once); the reconciler renders in the worker, inside size,
step and time limits, and fails the changeset with `template_invalid` naming the field,
with nothing written to GitHub. A step whose `if:` is a bomb fails the execution the same
way, quickly, in a real worker."""

# ruff: noqa: F811 (the end-to-end fixtures are imported, then named as test arguments)
from __future__ import annotations

import resource
import time
from collections.abc import Callable
from typing import Any

import pytest

from shoal.spec.templating import RenderLimits, TemplateLimitError, render_limited
from tests.e2e.conftest import (  # noqa: F401 (fixtures the end-to-end stack is built from)
    Stack,
    app_keys,
    make_sim,
    make_stack,
    octokit_schemas,
    work_dir,
)
from tests.e2e.publishing import publish, settled

WORLD: dict[str, Any] = {
    "orgs": [
        {
            "login": "acme",
            "repos": [{"name": "api", "files": {"README.md": "# api\n"}}],
        }
    ],
    "apps": [
        {
            "slug": "shoal",
            "permissions": {
                "contents": "write",
                "metadata": "read",
                "pull_requests": "write",
                "issues": "write",
            },
            "installations": [{"org": "acme"}],
        }
    ],
}

# Each made gigabytes (or ran for seconds) in the old renderer.
BOMBS = {
    "center": "{{ 'x'|center(1000000000) }}",
    "format": "{{ '%1000000000s'|format('x') }}",
    "str-format": "{{ '{:>1000000000}'.format(1) }}",
    "percent": "{{ '%.999999999f' % 1.0 }}",
    "tilde": "{% set ns = namespace(s='xxxxxxxx') %}{% for i in range(40) %}"
    "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
    "join": "{% set s = 'x' * 100000 %}{{ ([s] * 100000)|join }}",
    "replace": "{{ ('x' * 100000)|replace('x', 'yyyyyyyyyy') }}",
    "list-repr": "{% set s = 'x' * 100000 %}{{ [s] * 100000 }}",
    "loops": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "kept-strings": "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}"
    "{% set ns.l = ns.l + ['y' * 100000] %}{% endfor %}",
    "set-block": "{% set x %}{% for i in range(100000) %}{{ 'y' * 100000 }}{% endfor %}"
    "{% endset %}{{ x|length }}",
    "batch": "{{ [1]|batch(1000000000, 'x')|list|length }}",
    "macro-fan-out": "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}"
    "{% endmacro %}{{ f(40) }}",
}
LIMITS = RenderLimits(field="changeset.body", max_chars=256 * 1024)


@pytest.mark.parametrize("template", BOMBS.values(), ids=BOMBS.keys())
def test_each_bomb_stops_quickly_within_its_limits(template: str) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(TemplateLimitError):
        render_limited(template, {}, LIMITS)
    assert time.monotonic() - started < LIMITS.max_seconds + 1
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 200


def test_ordinary_templates_still_render() -> None:
    context = {"repo": {"name": "api"}, "diff": {"files": [{"path": "a.py"}, {"path": "b.py"}]}}
    text = render_limited(
        "{{ repo.name|upper }} {{ '%03d'|format(7) }} {{ '{:>4}'.format('x') }} "
        "{{ diff.files|map(attribute='path')|join(', ') }}"
        "{% for f in diff.files %} {{ loop.index }}:{{ f.path|replace('.py', '') }}{% endfor %}"
        " {{ 'a' ~ 'b' }} {{ ('ab' * 3)|center(10) }}",
        context,
        LIMITS,
    )
    assert text == "API 007    x a.py, b.py 1:a 2:b ab   ababab  "


SPEC = """\
name: bombs
on:
  - repos: [acme/api]
steps:
  - name: touch
    run: echo more >> README.md
changeset:
  title: "docs: {{{{ repo.name }}}}"
  body: {body}
"""


def test_a_bomb_in_the_body_fails_the_changeset_in_the_worker_not_the_request(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(WORLD)
    bomb = BOMBS["center"]
    run = stack.preview(SPEC.format(body=f'"ok\\n{bomb}"'))
    assert run["state"] == "done", run

    started = time.monotonic()
    answer = publish(stack, "bombs")
    assert time.monotonic() - started < 5  # the request renders nothing
    assert answer["changesets"] == 1

    found = settled(stack, "bombs")["acme/api"]
    assert found["state"] == "failed"
    assert found["failure_reason"] == "template_invalid"
    assert found["failure_message"] == (
        "changeset.body template: the template's output exceeds 256 KiB"
    )
    assert stack.mutations() == []  # no branch, no PR


def test_a_bomb_in_a_condition_fails_the_execution_quickly(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(WORLD)
    spec = SPEC.format(body="ok").replace(
        "  - name: touch\n", f'  - name: touch\n    if: "{BOMBS["loops"]}"\n'
    )
    started = time.monotonic()
    run = stack.preview(spec)
    assert time.monotonic() - started < 60
    assert run["state"] == "done", run
    execution = stack.executions(run["id"])["acme/api"]
    assert execution["state"] == "failed"
    assert execution["reason"] == "condition_invalid"
    assert "loop iterations and calls" in execution["message"]
