"""The packs of a publish: the push's, made from a repository's loose objects (git reads it
back as the same objects, and an object that is not what its name says is refused), and the
fetch's answer, whose shallow commits must be commits."""

from __future__ import annotations

import subprocess
import zlib
from pathlib import Path

import pytest

from shoal.publish.packs import LooseObjectError, loose_pack
from shoal.publish.smarthttp import DELIM_PKT, FLUSH_PKT, PktReader, ProtocolError, pkt
from shoal.publish.uploadpack import read_pack
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


def _answer(*packets: bytes) -> PktReader:
    return PktReader(iter([b"".join(packets)]), float("inf"))


def test_a_fetch_answer_whose_shallow_line_names_no_commit_is_not_read() -> None:
    """The shallow commits go to the `shallow` file one a line: a line that is not one
    sha (a newline inside, say) is refused, and the publish falls back to `git fetch`."""
    good = "a" * 40
    sink: list[bytes] = []
    fetched = read_pack(
        _answer(pkt(b"shallow-info\n"), pkt(f"shallow {good}\n".encode()), DELIM_PKT,
                pkt(b"packfile\n"), pkt(b"\x01PACK"), FLUSH_PKT),
        sink.append, max_bytes=1 << 20,
    )  # fmt: skip
    assert (fetched.shallow, sink) == ((good,), [b"PACK"])
    with pytest.raises(ProtocolError, match="names no commit"):
        read_pack(
            _answer(pkt(b"shallow-info\n"), pkt(f"shallow {good}\n{good}\n".encode())),
            sink.append, max_bytes=1 << 20,
        )  # fmt: skip
