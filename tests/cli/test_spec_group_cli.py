"""`shoal --version`, shell completion, and the `spec` group (with `specs`, its older name),
run as a user runs them: a subprocess, against a real API server where one is needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from shoal.domain.auth import Role
from tests.cli.test_cli import EXAMPLE, shoal
from tests.servers import RunningApi, api_settings, running_api


@pytest.fixture
def api(db_url: str, redis_url: str) -> Iterator[RunningApi]:
    with running_api(api_settings(db_url, redis_url)) as running:
        yield running


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["COLUMNS"] = "200"
    return env


def test_version_is_the_installed_distributions(cli_env: dict[str, str]) -> None:
    result = shoal(cli_env, "--version")
    assert result.stdout.strip() == f"shoal {version('shoal')}"


def test_help_shows_examples_and_completion_options(cli_env: dict[str, str]) -> None:
    top = shoal(cli_env, "--help").stdout
    assert "Examples:" in top and "shoal apply campaign.yaml" in top
    assert "--install-completion" in top and "--show-completion" in top
    spec = shoal(cli_env, "spec", "--help").stdout
    for command in ("validate", "schema", "history", "show", "diff"):
        assert command in spec
    assert "shoal spec diff" in spec
    # The older name still works but is not advertised.
    assert "│ spec " in top and "│ specs " not in top


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_for_each_shell(cli_env: dict[str, str], shell: str) -> None:
    script = shoal(cli_env, "completion", shell).stdout
    assert "_SHOAL_COMPLETE" in script
    assert f"complete_{shell}" in script


def test_completion_completes_commands(cli_env: dict[str, str]) -> None:
    # What the bash script runs on <TAB>: the command itself, told the words so far.
    def complete(words: str) -> list[str]:
        env = {
            **cli_env,
            "_SHOAL_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - 1),
        }
        done = subprocess.run(
            [sys.executable, "-m", "shoal"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout.split()

    assert complete("shoal sp") == ["spec"]
    assert complete("shoal spec hi") == ["history"]


def test_completion_refuses_an_unknown_shell(cli_env: dict[str, str]) -> None:
    result = shoal(cli_env, "completion", "tcsh", check=False)
    assert result.returncode == 2
    assert "tcsh" in result.stderr


def test_spec_validate_and_schema_need_no_server(cli_env: dict[str, str]) -> None:
    machine = json.loads(shoal(cli_env, "spec", "validate", str(EXAMPLE), "-o", "json").stdout)
    top = json.loads(shoal(cli_env, "validate", str(EXAMPLE), "-o", "json").stdout)
    assert machine == top and machine["valid"] is True
    assert "properties" in json.loads(shoal(cli_env, "specs", "schema").stdout)


def test_spec_history_show_diff_and_the_specs_alias(
    api: RunningApi, cli_env: dict[str, str], tmp_path: Path
) -> None:
    shoal(cli_env, "login", "--url", api.url, "--token", api.tokens[Role.OPERATOR])
    name = json.loads(shoal(cli_env, "apply", str(EXAMPLE), "-o", "json").stdout)["campaign"][
        "name"
    ]
    changed = tmp_path / "changed.yaml"
    text = EXAMPLE.read_text()
    changed.write_text(text.replace("description: |\n", "description: |\n  Changed.\n", 1))
    assert changed.read_text() != EXAMPLE.read_text()
    shoal(cli_env, "apply", str(changed), "--yes")

    history = json.loads(shoal(cli_env, "spec", "history", name, "-o", "json").stdout)
    assert [v["version"] for v in history] == [1, 2]
    assert json.loads(shoal(cli_env, "specs", "history", name, "-o", "json").stdout) == history

    shown = json.loads(shoal(cli_env, "spec", "show", name, "1", "-o", "json").stdout)
    assert shown["yaml"] == EXAMPLE.read_text()
    assert shoal(cli_env, "spec", "show", name).stdout == changed.read_text()

    report = json.loads(shoal(cli_env, "spec", "diff", name, "1", "-o", "json").stdout)
    assert (report["from_version"], report["to_version"]) == (1, 2)
    assert report["from_spec_hash"] == history[0]["spec_hash"]
    assert report["to_spec_hash"] == history[1]["spec_hash"]
    assert "\n+  Changed.\n" in report["diff"]
    assert shoal(cli_env, "spec", "diff", name, "1", "2").stdout == report["diff"]
    same = json.loads(shoal(cli_env, "spec", "diff", name, "2", "2", "-o", "json").stdout)
    assert same["diff"] == ""


def test_every_help_example_names_real_commands_and_options() -> None:
    import shlex

    import typer

    from shoal.cli.main import app

    # typer bundles its own click: groups are told apart by their commands.
    root: Any = typer.main.get_command(app)
    epilogs = [root.epilog or ""]
    for command in root.commands.values():
        epilogs.append(command.epilog or "")
        epilogs += [sub.epilog or "" for sub in getattr(command, "commands", {}).values()]
    lines = [
        line.strip()
        for epilog in epilogs
        for line in epilog.splitlines()
        if line.strip().startswith("shoal ")
    ]
    assert len(lines) >= 20
    for line in lines:
        words = [w for w in shlex.split(line) if w not in {">", "change.patch"}][1:]
        command = root
        while hasattr(command, "commands"):
            command = command.commands[words.pop(0)]
        known = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
        flags = {w for w in words if w.startswith("-")}
        assert flags <= known, (line, flags - known)
