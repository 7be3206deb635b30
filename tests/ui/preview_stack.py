"""A finished preview over the whole stack (simulator, API, worker) for the run pages' tests:
patches in two orgs, a failure, repositories without a change, and one repository whose
steps write hostile file names, a binary file, a rename, highlighted code and a long file.

Test modules import the fixtures they need from here (and the ones those need):
`from tests.ui.preview_stack import app_keys, make_sim, make_stack, octokit_schemas,
previewed, work_dir`."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest

from shoal.domain.auth import Role
from tests.e2e.conftest import Stack, make_stack, work_dir
from tests.sim.conftest import app_keys, make_sim, octokit_schemas
from tests.ui.conftest import Browser, sign_in

__all__ = [
    "CAMPAIGN",
    "HOSTILE_FILE",
    "SPEC",
    "WORLD",
    "Cells",
    "Previewed",
    "app_keys",
    "cells",
    "make_sim",
    "make_stack",
    "octokit_schemas",
    "previewed",
    "result_repos",
    "work_dir",
]

CAMPAIGN = "ui-runs"
HOSTILE_FILE = "<img src=x onerror=alert(1)>.md"
WORKFLOW = "jobs:\n  b:\n    steps:\n      - uses: actions/checkout@v3\n"

WORLD: dict[str, Any] = {
    "orgs": [
        {
            "login": "acme",
            "repos": [
                {
                    "name": "api",
                    "files": {".github/workflows/ci.yml": WORKFLOW, "README.md": "x\n"},
                },
                {"name": "app-two", "files": {".github/workflows/ci.yml": WORKFLOW}},
                {"name": "web", "files": {"main.go": "package main\n"}},
                {"name": "broken", "files": {"FAIL": "x\n", ".github/workflows/ci.yml": WORKFLOW}},
                {
                    "name": "odd",
                    "files": {"HOSTILE": "1\n", "old-name.txt": "same\ncontent\nhere\n"},
                },
            ],
        },
        {
            "login": "globex",
            "repos": [
                {"name": "alpha", "files": {".github/workflows/ci.yml": WORKFLOW}},
                {"name": "beta", "files": {"docs/readme.md": "beta\n"}},
            ],
        },
    ],
    "apps": [
        {
            "slug": "shoal",
            "permissions": {
                "contents": "write",
                "metadata": "read",
                "pull_requests": "write",
                "workflows": "write",
            },
            "installations": [{"org": "acme"}, {"org": "globex"}],
        }
    ],
}

SPEC = f"""\
name: {CAMPAIGN}
on:
  - org: acme
  - org: globex
steps:
  - name: fail-if-marked
    run: test ! -f FAIL || {{ echo "marked <script>alert('fail')</script>"; exit 3; }}
  - name: change
    run: |
      echo "<script>alert('log')</script> changing"
      if [ -d .github/workflows ]; then
        sed -i 's/checkout@v3/checkout@v4/g' .github/workflows/*.yml
      fi
      if [ -f HOSTILE ]; then
        printf 'hello <b>there</b>\\n' > '{HOSTILE_FILE}'
        printf '\\000\\001\\002\\003binary' > blob.bin
        mv old-name.txt new-name.txt
        printf 'def f():\\n    return "<script>"\\n' > code.py
        seq 1 1000 > long.txt
      fi
changeset:
  title: bump checkout
"""


@dataclass
class Previewed:
    stack: Stack
    run: dict[str, Any]
    opened: list[Browser] = field(default_factory=list)

    @property
    def run_id(self) -> int:
        return int(self.run["id"])

    def browser(self, role: Role) -> Browser:
        browser = sign_in(self.stack.api.url, self.stack.api.tokens[role])
        self.opened.append(browser)
        return browser


@pytest.fixture
def previewed(make_stack: Callable[..., Stack]) -> Iterator[Previewed]:
    stack = make_stack(WORLD, github_min_write_interval_s=0.05)
    run = stack.preview(SPEC)
    assert run["state"] == "done", run
    done = Previewed(stack, run)
    yield done
    for browser in done.opened:
        browser.http.close()


_ROW_REPO = re.compile(r'<a href="/ui/runs/\d+/repos/[^"]+">([^<]+)</a>')


def result_repos(page: str) -> list[str]:
    """The repositories a run page's results table lists, in order."""
    table = page.split('<table class="nav-rows run-results">', 1)
    return _ROW_REPO.findall(table[1]) if len(table) == 2 else []


Cells = list[tuple[str, str]]


class _CodeCells(HTMLParser):
    """The text of each diff cell (`td.code`) with its kind (add, del, ctx), screen-reader
    words left out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: Cells = []
        self._kind: str | None = None
        self._text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "td" and "code" in classes:
            self._kind = next((k for k in ("add", "del", "ctx") if k in classes), "other")
            self._text = []
        elif self._kind is not None and tag == "span" and ({"sr-only", "sign"} & set(classes)):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._skip:
            self._skip -= 1
        elif tag == "td" and self._kind is not None:
            self.found.append((self._kind, "".join(self._text)))
            self._kind = None

    def handle_data(self, data: str) -> None:
        if self._kind is not None and not self._skip:
            self._text.append(data)


def cells(html: str) -> Cells:
    parser = _CodeCells()
    parser.feed(html)
    return parser.found
