"""What only the filesystem store can get wrong: a full disk, paths, temp files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shoal.blobs import FilesystemObjectStore, InvalidBlobKeyError

# Runs in a child process whose object store sits on a 1 MiB filesystem (or, failing that,
# under a 1 MiB file size limit), so the parent never needs a mount of its own to clean up.
_CHILD = r"""
import json, os, resource, signal, sys
from pathlib import Path
from shoal.blobs import FilesystemObjectStore
from shoal.domain.errors import ShoalError

root = Path(sys.argv[1])
if sys.argv[2:] == ["limit"]:
    # Without SIG_IGN the kernel kills the writer with SIGXFSZ instead of failing write().
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
store = FilesystemObjectStore(root)
store.put_bytes("logs/small", b"x" * 1000)
out = {}
for name, key in (("overwrite", "logs/small"), ("new", "patches/big")):
    try:
        store.put_bytes(key, os.urandom(4 << 20))
        out[name] = None
    except ShoalError as exc:
        out[name] = {"type": type(exc).__name__, "code": exc.code,
                     "retryable": exc.retryable, "message": exc.message}
out["small_intact"] = store.get_bytes("logs/small") == b"x" * 1000
out["big_exists"] = store.exists("patches/big")
out["files"] = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
print(json.dumps(out))
"""
_MOUNT_FAILED = 97


def _run_on_tiny_tmpfs(mnt: Path) -> subprocess.CompletedProcess[str] | None:
    """Run the child in a private mount namespace with a 1 MiB tmpfs; None if not allowed."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    flags = ["--mount"] if os.geteuid() == 0 else ["--user", "--map-root-user", "--mount"]
    script = (
        f'mount -t tmpfs -o size=1m shoal-enospc "$1" || exit {_MOUNT_FAILED}; shift; exec "$@"'
    )
    argv = [unshare, *flags, "sh", "-c", script, "sh", str(mnt)]
    proc = subprocess.run(
        [*argv, sys.executable, "-c", _CHILD, str(mnt / "objects")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Only a refused namespace or mount means "not allowed here"; anything else is a failure
    # the test must show.
    if proc.returncode == _MOUNT_FAILED or proc.stderr.startswith("unshare:"):
        return None
    return proc


def _run_under_file_size_limit(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _CHILD, str(root), "limit"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_full_disk_is_retryable_and_leaves_no_partial_object(tmp_path: Path) -> None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    proc = _run_on_tiny_tmpfs(mnt)
    tiny_fs = proc is not None
    if proc is None:
        proc = _run_under_file_size_limit(tmp_path / "objects")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)

    for name in ("overwrite", "new"):
        error = out[name]
        assert error is not None, f"the {name} write should have failed"
        assert error["type"] == "BlobStoreUnavailableError"
        assert error["code"] == "blob_store_unavailable"
        assert error["retryable"] is True
        assert "nothing was written under the key" in error["message"]
        assert "objects" in error["message"]  # says where
        if tiny_fs:
            assert "no space left" in error["message"]
            assert "SHOAL_DATA_DIR" in error["message"]  # says how to fix
    assert out["small_intact"] is True
    assert out["big_exists"] is False
    assert out["files"] == ["logs/small"]  # no temp file left behind


def test_keys_never_leave_the_root(tmp_path: Path) -> None:
    store = FilesystemObjectStore(tmp_path / "root")
    for key in ("../outside", "a/../../outside", "/tmp/outside", "a/./b"):
        with pytest.raises(InvalidBlobKeyError):
            store.put_bytes(key, b"x")

    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_objects_land_under_the_key_path(tmp_path: Path) -> None:
    store = FilesystemObjectStore(tmp_path)
    store.put_bytes("patches/sha256/ab/abc", b"x")

    assert (tmp_path / "patches" / "sha256" / "ab" / "abc").read_bytes() == b"x"
    assert list((tmp_path / ".tmp").iterdir()) == []


@pytest.mark.parametrize(
    ("first", "second"),
    [("a", "a/b"), ("a/b", "a")],
    ids=["file-then-below", "below-then-file"],
)
def test_a_key_and_keys_below_it_cannot_coexist(tmp_path: Path, first: str, second: str) -> None:
    store = FilesystemObjectStore(tmp_path)
    store.put_bytes(first, b"1")

    with pytest.raises(InvalidBlobKeyError) as info:
        store.put_bytes(second, b"2")

    assert "cannot hold both" in info.value.message
    assert store.get_bytes(first) == b"1"
    assert list((tmp_path / ".tmp").iterdir()) == []


def test_a_failed_read_source_leaves_nothing(tmp_path: Path) -> None:
    store = FilesystemObjectStore(tmp_path / "root")

    with pytest.raises(FileNotFoundError):
        store.put_file("k", tmp_path / "missing")

    assert not store.exists("k")
