"""The example campaigns' steps are real shell: run them on small repositories and check.

They run with the machine's /bin/sh and tools here; the scripts stick to POSIX sh and the
sed/grep/find options busybox also has, because the sandbox images may be busybox-based.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from shoal.spec import parse_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DIGEST = "a" * 64

CASES: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "bump-checkout-v4": (
        {
            ".github/workflows/ci.yml": (
                "steps:\n"
                "  - uses: actions/checkout@v3\n"
                '  - uses: "actions/checkout@v3.5.2"\n'
                "  - uses: actions/checkout@v35\n"
                "  - uses: actions/setup-python@v3\n"
            ),
            "README.md": "uses actions/checkout@v3\n",
        },
        {
            ".github/workflows/ci.yml": (
                "steps:\n"
                "  - uses: actions/checkout@v4\n"
                '  - uses: "actions/checkout@v4"\n'
                "  - uses: actions/checkout@v35\n"
                "  - uses: actions/setup-python@v3\n"
            ),
            "README.md": "uses actions/checkout@v3\n",
        },
    ),
    "python-312-base-image": (
        {
            "Dockerfile": (
                "FROM python:3.8-slim AS build\n"
                "RUN echo python:3.8-slim\n"
                f"FROM --platform=linux/amd64 docker.io/library/python:3.8-slim@sha256:{DIGEST}\n"
                "FROM python:3.8-slim-bookworm\n"
            ),
            "svc/worker.Dockerfile": "from python:3.8-slim\n",
        },
        {
            "Dockerfile": (
                "FROM python:3.12-slim AS build\n"
                "RUN echo python:3.8-slim\n"
                "FROM --platform=linux/amd64 docker.io/library/python:3.12-slim\n"
                "FROM python:3.8-slim-bookworm\n"
            ),
            "svc/worker.Dockerfile": "from python:3.12-slim\n",
        },
    ),
    "add-dependabot": (
        {"pyproject.toml": "[project]\n"},
        {
            ".github/dependabot.yml": (
                "version: 2\n"
                "updates:\n"
                "  - package-ecosystem: github-actions\n"
                "    directory: /\n"
                "    schedule:\n"
                "      interval: weekly\n"
                "  - package-ecosystem: pip\n"
                "    directory: /\n"
                "    schedule:\n"
                "      interval: weekly\n"
            )
        },
    ),
    "add-codeowners": (
        {"README.md": "hello\n"},
        {
            ".github/CODEOWNERS": (
                "# Default owners; more specific rules go below.\n* @acme/payments\n"
            )
        },
    ),
    "rename-master-to-main": (
        {
            "README.md": (
                "See https://github.com/acme/api/blob/master/docs/x.md\n"
                "curl https://raw.githubusercontent.com/acme/api/master/install.sh\n"
                "Run `git pull origin master`, then `git push -u origin master`.\n"
                "The master node tracks origin/master-old and origin/master.\n"
            ),
            "scripts/release.sh": "git fetch origin master\ngit rebase origin/master\n",
            "app.py": "BRANCH = 'master'\n",
        },
        {
            "README.md": (
                "See https://github.com/acme/api/blob/main/docs/x.md\n"
                "curl https://raw.githubusercontent.com/acme/api/main/install.sh\n"
                "Run `git pull origin main`, then `git push -u origin main`.\n"
                "The master node tracks origin/master-old and origin/main.\n"
            ),
            "scripts/release.sh": "git fetch origin main\ngit rebase origin/main\n",
            "app.py": "BRANCH = 'master'\n",
        },
    ),
}


def run_steps(name: str, workspace: Path) -> None:
    spec = parse_spec((EXAMPLES / f"{name}.yaml").read_text()).spec
    for step in spec.steps:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workspace)}
        result = subprocess.run(
            ["/bin/sh", "-c", step.run],
            cwd=workspace,
            env={**env, **step.env},
            capture_output=True,
            text=True,
            timeout=step.timeout,
            check=False,
        )
        assert result.returncode == 0, f"{name}/{step.name}: {result.stderr}"


def snapshot(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): path.read_text()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize(("name", "case"), list(CASES.items()), ids=list(CASES))
def test_example_steps_make_the_intended_change(
    tmp_path: Path, name: str, case: tuple[dict[str, str], dict[str, str]]
) -> None:
    files, changes = case
    for relative, content in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(content)
    expected = {**files, **changes}

    run_steps(name, tmp_path)
    assert snapshot(tmp_path) == expected

    run_steps(name, tmp_path)  # re-running on the result changes nothing
    assert snapshot(tmp_path) == expected


def test_every_example_has_a_step_test() -> None:
    examples = {
        path.stem
        for path in EXAMPLES.glob("*.yaml")
        if "campaign-spec.schema.json" in path.read_text().partition("\n")[0]
    }
    assert examples == set(CASES)
