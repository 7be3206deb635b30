"""Attack: a campaign author names a branch that a reviewer misreads (a full ref, HEAD, a
commit sha, zero-width or bidi characters) or that git refuses. `shoal validate` and the
server's apply both refuse it, naming the field and the reason."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

from shoal.cli.main import app
from shoal.domain.auth import Role
from tests.servers import api_settings, running_api

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bump-checkout-v4.yaml"

AMBIGUOUS = {
    "refs/heads/main": "starts with 'refs/'",
    "heads/main": "starts with 'heads/'",
    "remotes/origin/main": "starts with 'remotes/'",
    "HEAD": "reserved by git",
    "@": "reserved by git",
    "shoal/HEAD": "names git's HEAD",
    "FETCH_HEAD": "names git's HEAD",
    "0123456789abcdef0123456789abcdef01234567": "looks like a commit sha",
    "shoal/ma\u200bin": "U+200B",  # zero-width space
    "shoal/\u202eniam": "U+202E",  # right-to-left override
    "shoal/\u2066main\u2069": "U+2066",  # left-to-right isolate
    "shoal/main\ufeff": "U+FEFF",  # byte order mark
    "shoal/ma\u00a0in": "U+00A0",  # no-break space
    "shoal/\u0085x": "U+0085",  # C1 control
}
# Names git check-ref-format --branch refuses.
GIT_REFUSES = [
    "a..b",
    "a/.x",
    "x.lock",
    "a b",
    "a~1",
    "a^",
    "a:b",
    "a?",
    "a*",
    "a[b",
    "a\\b",
    "a//b",
    "/a",
    "a/",
    "a.",
    "a@{1}",
    "-a",
    "a\x7fb",
]


def _spec_with_branch(tmp_path: Path, branch: str) -> Path:
    text = EXAMPLE.read_text().replace(
        "changeset:\n  title:", f"changeset:\n  branch: {json.dumps(branch)}\n  title:"
    )
    assert json.dumps(branch) in text
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _quiet_server_logs() -> Iterator[None]:
    with structlog.testing.capture_logs():
        yield


@pytest.mark.parametrize("branch", [*AMBIGUOUS, *GIT_REFUSES])
def test_validate_refuses_the_branch_naming_the_field(tmp_path: Path, branch: str) -> None:
    spec = _spec_with_branch(tmp_path, branch)
    result = CliRunner().invoke(app, ["validate", str(spec), "-o", "json"])
    assert result.exit_code == 1, result.output
    errors = json.loads(result.stdout)["errors"]
    assert [e["path"] for e in errors] == ["changeset.branch"]
    assert "is not a valid git branch name" in errors[0]["message"]
    if branch in AMBIGUOUS:
        assert AMBIGUOUS[branch] in errors[0]["message"]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.parametrize("branch", GIT_REFUSES)
def test_git_refuses_them_too(branch: str) -> None:
    # The list above is what git itself refuses, not a guess about it.
    checked = subprocess.run(
        ["git", "check-ref-format", "--branch", branch], capture_output=True, check=False
    )
    assert checked.returncode != 0


def test_validate_accepts_an_ordinary_branch(tmp_path: Path) -> None:
    spec = _spec_with_branch(tmp_path, "shoal/bump-checkout-v4.1_x")
    result = CliRunner().invoke(app, ["validate", str(spec)])
    assert result.exit_code == 0, result.output


def test_apply_refuses_an_invisible_branch_name(
    db_url: str, redis_url: str, tmp_path: Path
) -> None:
    spec = _spec_with_branch(tmp_path, "shoal/ma\u200bin")
    with running_api(api_settings(db_url, redis_url)) as api:
        env = {
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "SHOAL_URL": api.url,
            "SHOAL_TOKEN": api.tokens[Role.OPERATOR],
        }
        result = CliRunner().invoke(app, ["apply", str(spec)], env=env)
        with api.client() as http:
            listed = http.get("/campaigns").json()
    assert result.exit_code == 1, result.output
    assert "changeset.branch" in result.stderr and "U+200B" in result.stderr
    assert listed == [] or listed.get("items", listed) == []
