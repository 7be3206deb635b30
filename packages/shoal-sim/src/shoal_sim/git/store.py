"""Where the bare repositories live and how a new one is laid out.

Repositories are stored by numeric id (``repos/<id>.git``), so renames never move files.
New repositories are written directly (a handful of small files) instead of running
``git init`` per repository: seeding thousands of them would otherwise be dominated by
process start-up.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from shoal_sim.git.repo import GitRepo

_CONFIG = """[core]
\trepositoryformatversion = 0
\tfilemode = true
\tbare = true
[receive]
\tautogc = false
[gc]
\tauto = 0
"""


def git_env(home: Path) -> dict[str, str]:
    """An environment isolated from the user's git configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        HOME=str(home),
        GIT_TERMINAL_PROMPT="0",
        LC_ALL="C",
    )
    return env


class GitStore:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "git"
        self.repos_dir = self.root / "repos"
        self.shared = self.root / "shared.git"
        self.hooks_dir = data_dir / "hooks"
        self.env = git_env(data_dir)
        self.repos_dir.mkdir(parents=True, exist_ok=True)
        if not (self.shared / "HEAD").exists():
            subprocess.run(
                ["git", "init", "--quiet", "--bare", str(self.shared)], check=True, env=self.env
            )
            (self.shared / "config").write_text(_CONFIG)

    @property
    def shared_repo(self) -> GitRepo:
        return GitRepo(self.shared, self.env)

    def path(self, repo_id: int) -> Path:
        return self.repos_dir / f"{repo_id}.git"

    def open(self, repo_id: int) -> GitRepo:
        return GitRepo(self.path(repo_id), self.env)

    def create(
        self, repo_id: int, default_branch: str, branches: dict[str, str] | None = None
    ) -> GitRepo:
        """Lay out a bare repository whose ``branches`` (name -> sha) are in the shared store."""
        # Only what git needs to recognise a repository: it creates the rest on demand.
        path = self.path(repo_id)
        os.makedirs(path / "objects" / "info", exist_ok=True)
        os.makedirs(path / "refs", exist_ok=True)
        (path / "HEAD").write_text(f"ref: refs/heads/{default_branch}\n")
        (path / "config").write_text(_CONFIG)
        (path / "objects/info/alternates").write_text(f"{self.shared / 'objects'}\n")
        if branches:
            lines = [f"{sha} refs/heads/{name}" for name, sha in sorted(branches.items())]
            (path / "packed-refs").write_text(
                "# pack-refs with: peeled fully-peeled sorted \n" + "\n".join(lines) + "\n"
            )
        return GitRepo(path, self.env)

    def delete(self, repo_id: int) -> None:
        shutil.rmtree(self.path(repo_id), ignore_errors=True)
