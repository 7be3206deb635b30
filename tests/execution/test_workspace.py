"""prepare_workspace: GitHub tarballs extracted safely, with the baseline beside the workspace."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from shoal.execution import WorkspaceError, prepare_workspace
from shoal.execution.git import EMPTY_TREE
from tests.execution.conftest import TOP, git, github_tarball, tree_of


def test_github_tarball_is_extracted_without_its_top_directory(tmp_path: Path) -> None:
    tarball = github_tarball(
        tmp_path / "base",
        {"README.md": b"hi\n", "src/app.py": b"print()\n", b"caf\xe9.txt": b"x\n", "run": b""},
        symlinks={"up": "../outside", "abs": "/etc/hostname", "docs": "src"},
        executable=("run",),
    )
    workspace = prepare_workspace(tarball, tmp_path / "ws" / "workspace")
    assert tree_of(workspace.path) == {
        "README.md": b"hi\n",
        "src/app.py": b"print()\n",
        os.fsdecode(b"caf\xe9.txt"): b"x\n",
        "run": b"",
        "up": b"-> ../outside",
        "abs": b"-> /etc/hostname",
        "docs": b"-> src",
    }
    assert os.access(workspace.path / "run", os.X_OK)
    assert not os.access(workspace.path / "README.md", os.X_OK)
    # The baseline is the commit's own tree: same files, modes and links.
    commit_tree = git(tmp_path / "base" / "src", "rev-parse", "HEAD^{tree}").stdout.decode()
    assert workspace.base_tree == commit_tree.strip()
    assert workspace.git_dir == tmp_path / "ws" / "workspace.baseline.git"
    assert workspace.git_dir.stat().st_mode & 0o077 == 0


def test_no_tarball_is_an_empty_workspace(tmp_path: Path) -> None:
    workspace = prepare_workspace(None, tmp_path / "workspace")
    assert list(workspace.path.iterdir()) == []
    assert workspace.base_tree == EMPTY_TREE


def test_workspace_must_start_empty(tmp_path: Path) -> None:
    (tmp_path / "workspace").mkdir()
    (tmp_path / "workspace" / "left-over").write_text("x")
    with pytest.raises(WorkspaceError, match="not empty"):
        prepare_workspace(None, tmp_path / "workspace")


def _tarball(tmp_path: Path, add: Callable[[tarfile.TarFile], None]) -> Path:
    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        top = tarfile.TarInfo(TOP)
        top.type = tarfile.DIRTYPE
        archive.addfile(top)
        add(archive)
    return path


def _file(name: str, data: bytes = b"x") -> Callable[[tarfile.TarFile], None]:
    def add(archive: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))

    return add


def _link(name: str, target: str, kind: bytes) -> Callable[[tarfile.TarFile], None]:
    def add(archive: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = target
        archive.addfile(info)

    return add


def _both(*adds: Callable[[tarfile.TarFile], None]) -> Callable[[tarfile.TarFile], None]:
    def add(archive: tarfile.TarFile) -> None:
        for one in adds:
            one(archive)

    return add


def _device(archive: tarfile.TarFile) -> None:
    info = tarfile.TarInfo(f"{TOP}/null")
    info.type = tarfile.CHRTYPE
    archive.addfile(info)


@pytest.mark.parametrize(
    "add",
    [
        _file(f"{TOP}/../../escaped"),
        _file("other-top/file"),
        _both(_link(f"{TOP}/etc", "/etc", tarfile.SYMTYPE), _file(f"{TOP}/etc/owned")),
        _both(_link(f"{TOP}/up", "../..", tarfile.SYMTYPE), _file(f"{TOP}/up/owned")),
        _link(f"{TOP}/hard", "../../etc/hostname", tarfile.LNKTYPE),
        _device,
    ],
    ids=[
        "dot-dot",
        "second-top-dir",
        "write-through-abs-link",
        "write-through-rel-link",
        "hardlink-outside",
        "device",
    ],
)
def test_unsafe_tarballs_are_refused(
    tmp_path: Path, add: Callable[[tarfile.TarFile], None]
) -> None:
    tarball = _tarball(tmp_path, add)
    with pytest.raises(WorkspaceError):
        prepare_workspace(tarball, tmp_path / "x" / "workspace")
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "owned").exists()


def test_a_corrupt_tarball_is_refused(tmp_path: Path) -> None:
    tarball = tmp_path / "broken.tar.gz"
    tarball.write_bytes(b"\x1f\x8b\x08\x00 definitely not gzip")
    with pytest.raises(WorkspaceError, match="cannot extract"):
        prepare_workspace(tarball, tmp_path / "workspace")
