"""`shoal preview`, `shoal runs ...` and `shoal diff` as a user runs them, against the stack."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from shoal.domain.auth import Role
from tests.cli.test_cli import shoal
from tests.e2e.conftest import Stack
from tests.e2e.test_preview import SECRET, SPEC, WORLD


def test_preview_from_a_file_then_read_the_results(
    make_stack: Callable[..., Stack], tmp_path: Path
) -> None:
    stack = make_stack(WORLD, secrets={"API_TOKEN": SECRET})
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env |= {"XDG_CONFIG_HOME": str(tmp_path / "config"), "COLUMNS": "200"}
    shoal(env, "login", "--url", stack.api.url, "--token", stack.api.tokens[Role.OPERATOR])
    spec = tmp_path / "bump.yaml"
    spec.write_text(SPEC)

    preview = shoal(env, "preview", str(spec))
    assert "run 1 started" in preview.stdout
    assert "run 1 done: 8 repositories considered, 3 included, 5 excluded" in preview.stdout
    assert "1 with a patch, 1 unchanged, 1 failed" in preview.stdout
    assert "acme/broken" in preview.stdout and "step_exit_code" in preview.stdout

    shown = json.loads(shoal(env, "runs", "show", "1", "--state", "failed", "-o", "json").stdout)
    assert [e["repo"] for e in shown["executions"]] == ["acme/broken"]
    by_path = shoal(env, "runs", "show", "1", "--path", ".github/workflows/*.yml").stdout
    assert "acme/api" in by_path and "acme/web" not in by_path

    targets = shoal(env, "runs", "targets", "1", "--excluded").stdout
    assert "globex/alpha" in targets and "not installed" in targets

    diff = shoal(env, "diff", "bump-e2e", "acme/api").stdout
    assert "+      - uses: actions/checkout@v4" in diff
    unchanged = shoal(env, "diff", "bump-e2e", "acme/web").stdout
    assert "acme/web: no_change" in unchanged

    logs = shoal(env, "runs", "logs", "1", "acme/api").stdout
    assert "==> step leak" in logs and "token=***" in logs and SECRET not in logs

    listed = json.loads(shoal(env, "runs", "list", "bump-e2e", "-o", "json").stdout)
    assert [(r["id"], r["state"]) for r in listed] == [(1, "done")]

    retried = shoal(env, "runs", "retry", "1", "acme/broken").stdout
    assert "acme/broken: queued again" in retried
    stack.wait(1)
    refused = shoal(env, "runs", "retry", "1", "acme/api", check=False)
    assert refused.returncode == 1 and "only failed executions" in refused.stderr
