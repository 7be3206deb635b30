"""The push's pack made from a repository's loose objects: git reads it back as the same
objects, and an object that is not what its name says is refused."""

from __future__ import annotations

import subprocess
import zlib
from pathlib import Path

import pytest

from shoal.publish.packs import LooseObjectError, loose_pack
from tests.sim.conftest import run_git


def _repo(tmp_path: Path) -> tuple[Path, set[str]]:
    work = tmp_path / "work"
    work.mkdir()
    run_git("init", "--quiet", cwd=work)
    (work / "README.md").write_text("# hello\n")
    (work / "src").mkdir()
    (work / "src" / "big.bin").write_bytes(bytes(range(256)) * 300)  # a size past 4 bits
    run_git("add", "--all", cwd=work)
    run_git("commit", "--quiet", "-m", "first", cwd=work)
    listed = run_git("rev-list", "--objects", "--all", cwd=work).stdout.split("\n")
    return work / ".git" / "objects", {line.split(" ")[0] for line in listed if line}


def test_git_reads_the_pack_back_as_the_same_objects(tmp_path: Path) -> None:
    objects, names = _repo(tmp_path)
    pack = loose_pack(objects)
    into = tmp_path / "into"
    run_git("init", "--quiet", "--bare", str(into), cwd=tmp_path)
    indexed = subprocess.run(
        ["git", "index-pack", "--stdin", "--strict"],
        cwd=into, input=pack, capture_output=True, check=False, timeout=60,
    )  # fmt: skip
    assert indexed.returncode == 0, indexed.stderr
    shown = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch-check=%(objectname)"],
        cwd=into, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert set(shown.stdout.split()) == names


def test_an_object_that_is_not_what_its_name_says_is_refused(tmp_path: Path) -> None:
    objects, names = _repo(tmp_path)
    name = sorted(names)[0]
    path = objects / name[:2] / name[2:]
    path.chmod(0o644)
    path.write_bytes(zlib.compress(b"blob 5\0other"))
    with pytest.raises(LooseObjectError, match="does not hash to its name"):
        loose_pack(objects)
    path.write_bytes(b"not zlib")
    with pytest.raises(LooseObjectError, match=name):
        loose_pack(objects)
