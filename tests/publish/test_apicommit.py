"""API commit mode: what a Patch changes, read from a real git repository (modes, deletions,
binaries, symlinks, renames), and commits made through the simulator's Git Data API over
HTTP: signed, idempotent, refused on protected branches, every mutation recorded to match
the simulator's ledger request for request."""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shoal.domain.clock import FrozenClock
from shoal.domain.errors import InvalidInputError
from shoal.domain.mutations import Mutation
from shoal.github import InstallationClient
from shoal.github.push import BranchProtectedError, MissingPermissionError, NonFastForwardError
from shoal.publish import GitPublisher, commit_identity
from shoal.publish.apicommit import ApiCommitter, FileChange, read_change
from tests.github.conftest import AppUnderTest, Clocks, make_app, redis_client
from tests.sim.conftest import (
    RunningSim,
    app_keys,
    basic_header,
    git_env,
    make_sim,
    octokit_schemas,
    run_git,
)

__all__ = ["app_keys", "make_app", "make_sim", "octokit_schemas", "redis_client"]

# A file's content (written with mode 100644), ("x", content) for an executable, ("->", target)
# for a symbolic link, None to delete it.
Content = str | bytes | tuple[str, str | bytes] | None
BINARY = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256))
LATIN1 = "caf\xe9\n".encode("latin-1")


def _write(root: Path, files: dict[str, Content]) -> None:
    for path, content in files.items():
        target = root / path
        if target.is_symlink() or target.is_file():
            target.unlink()
        if content is None:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        kind, data = content if isinstance(content, tuple) else ("", content)
        if kind == "->":
            os.symlink(data, target)
            continue
        target.write_bytes(data if isinstance(data, bytes) else data.encode())
        target.chmod(0o755 if kind == "x" else 0o644)


@dataclass
class LocalTree:
    """A repository on disk in the role of `PreparedTree`: a base commit and the tree of a
    change on top of it."""

    root: Path
    base_sha: str = ""
    tree_sha: str = ""

    def git(self, *args: str) -> bytes:
        done = subprocess.run(
            ["git", *args], cwd=self.root, env=git_env(self.root), capture_output=True,
            check=True, timeout=60,
        )  # fmt: skip
        return done.stdout

    def blob(self, path: str) -> str:
        return self.git("rev-parse", f"{self.tree_sha}:{path}").decode().strip()

    @classmethod
    def make(cls, root: Path, base: dict[str, Content], change: dict[str, Content]) -> LocalTree:
        root.mkdir()
        run_git("init", "--quiet", "-b", "main", cwd=root)
        _write(root, base)
        run_git("add", "--all", cwd=root)
        run_git("commit", "--quiet", "-m", "base", cwd=root)
        tree = cls(root, run_git("rev-parse", "HEAD", cwd=root).stdout.strip())
        _write(root, change)
        run_git("add", "--all", cwd=root)
        tree.tree_sha = run_git("write-tree", cwd=root).stdout.strip()
        return tree


BASE: dict[str, Content] = {
    "README.md": "# tools\n",
    "bin/run": ("x", "#!/bin/sh\necho run\n"),
    "docs/old.md": "old\n",
    "notes.txt": "notes\n",
    "logo.png": BINARY,
    "link": ("->", "README.md"),
    "lib": "a file that becomes a directory\n",
}

# case id -> (change, what read_change must say as (path, mode, new object, content sent))
CASES: dict[str, tuple[dict[str, Content], list[tuple[str, str, str | None, bytes | None]]]] = {
    "text-modified": (
        {"README.md": "# tools\nv2\n"},
        [("README.md", "100644", "new", b"# tools\nv2\n")],
    ),
    "executable-added": (
        {"bin/lint": ("x", "#!/bin/sh\nexit 0\n")},
        [("bin/lint", "100755", "new", b"#!/bin/sh\nexit 0\n")],
    ),
    "made-executable": ({"notes.txt": ("x", "notes\n")}, [("notes.txt", "100755", "new", None)]),
    "executable-bit-dropped": (
        {"bin/run": "#!/bin/sh\necho run\n"},
        [("bin/run", "100644", "new", None)],
    ),
    "deleted": ({"docs/old.md": None}, [("docs/old.md", "100644", None, None)]),
    "symlink-added": ({"latest": ("->", "bin/run")}, [("latest", "120000", "new", b"bin/run")]),
    "symlink-retargeted": (
        {"link": ("->", "notes.txt")},
        [("link", "120000", "new", b"notes.txt")],
    ),
    "file-became-symlink": (
        {"notes.txt": ("->", "README.md")},
        [("notes.txt", "120000", "new", b"README.md")],
    ),
    "binary-added": ({"icon.png": BINARY[::-1]}, [("icon.png", "100644", "new", BINARY[::-1])]),
    "not-utf8-text": ({"menu.txt": LATIN1}, [("menu.txt", "100644", "new", LATIN1)]),
    "renamed": (
        {"docs/old.md": None, "docs/new.md": "old\n"},
        [("docs/old.md", "100644", None, None), ("docs/new.md", "100644", "new", None)],
    ),
    "file-became-directory": (
        {"lib": None, "lib/core.py": "x = 1\n"},
        [("lib", "100644", None, None), ("lib/core.py", "100644", "new", b"x = 1\n")],
    ),
}


@pytest.mark.parametrize(("change", "expected"), list(CASES.values()), ids=list(CASES))
def test_the_change_lists_each_path_with_its_mode_object_and_content(
    tmp_path: Path,
    change: dict[str, Content],
    expected: list[tuple[str, str, str | None, bytes | None]],
) -> None:
    tree = LocalTree.make(tmp_path / "repo", BASE, change)
    read = read_change(tree)
    assert read.tree == tree.tree_sha
    assert read.base_tree == tree.git("rev-parse", "HEAD^{tree}").decode().strip()
    assert [(f.path, f.mode, f.sha, f.content) for f in read.files] == [
        (path, mode, tree.blob(path) if sha == "new" else None, content)
        for path, mode, sha, content in expected
    ]


def test_text_travels_inline_and_everything_else_as_a_blob() -> None:
    assert FileChange("a", "100644", "1" * 40, b"caf\xc3\xa9\n").text == "café\n"
    assert FileChange("a", "120000", "1" * 40, b"../target").text == "../target"
    assert FileChange("a", "100644", "1" * 40, BINARY).text is None
    assert FileChange("a", "100644", "1" * 40, LATIN1).text is None
    assert FileChange("a", "100644", "1" * 40, b"nul \0 inside").text is None
    assert FileChange("a", "100644", "1" * 40, None).text is None
    assert FileChange("sub", "160000", "1" * 40).kind == "commit"


def test_a_path_github_cannot_name_is_refused(tmp_path: Path) -> None:
    name = b"caf\xe9.txt".decode("utf-8", "surrogateescape")
    tree = LocalTree.make(tmp_path / "repo", BASE, {name: "x\n"})
    with pytest.raises(InvalidInputError, match="not UTF-8"):
        read_change(tree)


# -- against the simulator's Git Data API ---------------------------------------------------

WORKFLOW = "on: [push]\njobs: {}\n"
WORLD: dict[str, Any] = {
    "users": [{"login": "alice"}],
    "orgs": [
        {
            "login": "acme",
            "members": {"alice": "admin"},
            "repos": [
                {
                    "name": "tools",
                    "files": {
                        "README.md": "# tools\n",
                        "docs/old.md": "old\n",
                        ".github/workflows/ci.yml": WORKFLOW,
                    },
                }
            ],
        }
    ],
    "apps": [
        {
            "slug": slug,
            "permissions": {"contents": "write", "metadata": "read"}
            | ({"workflows": "write"} if slug == "shoal" else {}),
            "installations": [{"org": "acme"}],
        }
        for slug in ("shoal", "lite")
    ],
}
CHANGE: dict[str, Content] = {
    "README.md": "# tools\nnow signed\n",
    "docs/old.md": None,
    "bin/lint": ("x", "#!/bin/sh\nexit 0\n"),
    "latest": ("->", "bin/lint"),
    "logo.png": BINARY,
}
TREES = "POST /repos/{owner}/{repo}/git/trees"
BLOBS = "POST /repos/{owner}/{repo}/git/blobs"
COMMITS = "POST /repos/{owner}/{repo}/git/commits"
CREATE_REF = "POST /repos/{owner}/{repo}/git/refs"
UPDATE_REF = "PATCH /repos/{owner}/{repo}/git/refs/{ref}"


def message(version: int = 1) -> str:
    return commit_identity(
        f"{'5eed' * 10}:{'ab' * 32}:api",
        message="chore: sign it" if version == 1 else f"chore: sign it (version {version})",
        author_name="Shoal",
        author_email="shoal@acme.dev",
        campaign_name="signed",
        campaign_id=7,
    ).message


@dataclass
class ApiWorld:
    sim: RunningSim
    app: Callable[[str], AppUnderTest]  # Shoal as the App of this slug
    tmp: Path
    seen: int = 0  # ledger entries already looked at

    def client(self, slug: str = "shoal") -> InstallationClient:
        under = self.app(slug)
        return under.app.installation(under.installation_id(slug=slug))

    def committer(self, slug: str = "shoal") -> ApiCommitter:
        git = GitPublisher(self.tmp / "work", git_base_url=self.sim.url)
        return ApiCommitter(git, self.client(slug))

    def patch(self, change: dict[str, Content], name: str) -> tuple[str, Path]:
        """`git diff --binary` of `change` on acme/tools' main, as the preview makes it."""
        work = self.tmp / f"clone-{name}"
        header = basic_header(self.sim.installation_token()).split("=", 1)[1]
        env = git_env(self.tmp) | {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": header,
        }
        subprocess.run(
            ["git", "clone", "--quiet", f"{self.sim.url}/acme/tools.git", str(work)],
            env=env, capture_output=True, check=True, timeout=60,
        )  # fmt: skip
        _write(work, change)
        run_git("add", "--all", cwd=work)
        diff = subprocess.run(
            ["git", "diff", "--cached", "--binary", "--full-index"], cwd=work,
            env=git_env(work), capture_output=True, check=True,
        ).stdout  # fmt: skip
        patch = self.tmp / f"{name}.patch"
        patch.write_bytes(diff)
        return run_git("rev-parse", "HEAD", cwd=work).stdout.strip(), patch

    def gh(self, path: str) -> Any:
        with self.sim.http(self.sim.installation_token()) as http:
            reply = http.get(f"/repos/acme/tools{path}")
        return reply.json() if reply.status_code == 200 else None

    def new_ledger(self) -> list[tuple[str, str | None]]:
        entries = [e for e in self.sim.admin.ledger() if e["actor"]["kind"] != "admin"]
        fresh, self.seen = entries[self.seen :], len(entries)
        return [(e["operation"], e["request_id"]) for e in fresh]


def recorded(records: tuple[Mutation, ...]) -> list[tuple[str, str | None]]:
    return [(r.operation, r.request_id) for r in records]


@pytest.fixture
def api_world(
    make_sim: Callable[..., RunningSim], make_app: Callable[..., AppUnderTest], tmp_path: Path
) -> ApiWorld:
    sim = make_sim(WORLD)
    # Writes are paced (a gap between mutations): sleeping advances both clocks instead.
    clocks = Clocks(sim, FrozenClock(sim.sim.clock.now()))

    def app(slug: str) -> AppUnderTest:
        return make_app(sim, slug=slug, clock=clocks.clock, sleep=clocks)

    return ApiWorld(sim, app, tmp_path)


def test_the_commit_is_signed_holds_the_patch_and_is_made_once(api_world: ApiWorld) -> None:
    w = api_world
    base, patch = w.patch(CHANGE, "p")
    committer = w.committer()
    first = committer.publish(
        "acme/tools", base, patch, "shoal/signed", message(), default_branch="main", force=False
    )
    assert (first.pushed, first.previous_sha, first.forced) == (True, None, False)
    records = committer.take_mutations()
    assert [r.operation for r in records] == [BLOBS, TREES, COMMITS, CREATE_REF]
    assert all(r.ok and r.request_id for r in records)
    assert recorded(records) == w.new_ledger()

    assert w.gh("/git/ref/heads/shoal/signed")["object"]["sha"] == first.commit_sha
    shown = w.gh(f"/commits/{first.commit_sha}")
    assert shown["commit"]["verification"]["verified"] is True
    assert shown["commit"]["message"].endswith("Shoal-Campaign: signed\nShoal-Campaign-Id: 7")
    assert [p["sha"] for p in shown["parents"]] == [base]
    entries = {e["path"]: e for e in w.gh(f"/git/trees/{first.commit_sha}?recursive=1")["tree"]}
    assert "docs/old.md" not in entries
    assert (entries["bin/lint"]["mode"], entries["latest"]["mode"]) == ("100755", "120000")
    blobs = {path: w.gh(f"/git/blobs/{entries[path]['sha']}") for path in ("README.md", "logo.png")}
    assert base64.b64decode(blobs["README.md"]["content"]) == b"# tools\nnow signed\n"
    assert base64.b64decode(blobs["logo.png"]["content"]) == BINARY

    # Publishing the same inputs again writes nothing: same tree, parent and message.
    again = committer.publish(
        "acme/tools", base, patch, "shoal/signed", message(), default_branch="main", force=True
    )
    assert (again.commit_sha, again.pushed, again.previous_sha) == (
        first.commit_sha,
        False,
        first.commit_sha,
    )
    assert committer.take_mutations() == ()
    assert w.new_ledger() == []


def test_a_new_message_replaces_the_commit_only_where_shoal_may_force(
    api_world: ApiWorld,
) -> None:
    w = api_world
    base, patch = w.patch({"README.md": "# tools\nv2\n"}, "p")
    committer = w.committer()
    first = committer.publish(
        "acme/tools", base, patch, "shoal/x", message(1), default_branch="main", force=False
    )
    committer.take_mutations()
    w.new_ledger()
    with pytest.raises(NonFastForwardError) as refused:
        committer.publish(
            "acme/tools", base, patch, "shoal/x", message(2), default_branch="main", force=False
        )
    assert not refused.value.retryable
    records = committer.take_mutations()
    assert [(r.operation, r.ok, r.status, r.error_code) for r in records] == [
        (TREES, True, 201, None),
        (COMMITS, True, 201, None),
        (UPDATE_REF, False, 422, "non_fast_forward"),
    ]
    assert recorded(records) == w.new_ledger()

    forced = committer.publish(
        "acme/tools", base, patch, "shoal/x", message(2), default_branch="main", force=True
    )
    assert (forced.pushed, forced.previous_sha, forced.forced) == (True, first.commit_sha, True)
    assert w.gh("/git/ref/heads/shoal/x")["object"]["sha"] == forced.commit_sha
    assert [r.operation for r in committer.take_mutations()] == [TREES, COMMITS, UPDATE_REF]


def test_a_protected_branch_fails_with_the_rule_and_the_refusal_is_recorded(
    api_world: ApiWorld,
) -> None:
    w = api_world
    w.sim.admin.protect_branch("acme", "tools", "release/1.x", required_status_checks=["ci/test"])
    base, patch = w.patch({"README.md": "# tools\nv2\n"}, "p")
    committer = w.committer()
    with pytest.raises(BranchProtectedError) as refused:
        committer.publish(
            "acme/tools", base, patch, "release/1.x", message(), default_branch="main", force=False
        )
    error = refused.value
    assert (error.ref, error.rules) == ("refs/heads/release/1.x", ("required status checks",))
    assert "refs/heads/release/1.x" in error.message and "required status checks" in error.message
    records = committer.take_mutations()
    assert [(r.operation, r.ok, r.status, r.error_code) for r in records][-1] == (
        CREATE_REF,
        False,
        422,
        "branch_protected",
    )
    assert recorded(records) == w.new_ledger()
    assert w.gh("/git/ref/heads/release/1.x") is None


def test_the_default_branch_is_refused_before_any_request(api_world: ApiWorld) -> None:
    w = api_world
    base, patch = w.patch({"README.md": "x\n"}, "p")
    committer = w.committer()
    with pytest.raises(BranchProtectedError, match="default branch"):
        committer.publish(
            "acme/tools", base, patch, "main", message(), default_branch="main", force=True
        )
    assert committer.take_mutations() == ()
    assert w.new_ledger() == []


def test_workflow_changes_need_the_workflows_permission(api_world: ApiWorld) -> None:
    w = api_world
    base, patch = w.patch({".github/workflows/ci.yml": WORKFLOW + "# v2\n"}, "p")
    committer = w.committer("lite")
    with pytest.raises(MissingPermissionError) as refused:
        committer.publish(
            "acme/tools", base, patch, "shoal/wf", message(), default_branch="main", force=False
        )
    assert (refused.value.permission, refused.value.path) == (
        "workflows",
        ".github/workflows/ci.yml",
    )
    records = committer.take_mutations()
    assert records[-1].error_code == "github_permission_missing"
    assert recorded(records) == w.new_ledger()
