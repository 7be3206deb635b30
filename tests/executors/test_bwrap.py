"""BwrapSandbox against the real bubblewrap of this machine: what a step can and cannot do."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from shoal.executors import BwrapSandbox, SandboxUnavailableError, StepLimits, StepRun
from shoal.executors.tools import find_tool
from tests.executors.conftest import processes_with

LIMITS = StepLimits(timeout_s=20)
SRC = Path(__file__).resolve().parents[2] / "src"


def run(sandbox: BwrapSandbox, workspace: Path, script: str, **env: str) -> StepRun:
    return sandbox.run(script, workspace=workspace, env=env, limits=LIMITS)


def text(result: StepRun) -> str:
    return result.output_head.decode()


def test_step_runs_as_uid_65534_in_the_workspace(bwrap: BwrapSandbox, workspace: Path) -> None:
    result = run(bwrap, workspace, 'id -u; id -g; pwd; cat README.md; echo "$HOME"')
    assert result.exit_code == 0, text(result)
    assert text(result).split("\n") == ["65534", "65534", "/workspace", "hello", "/tmp", ""]


def test_workspace_is_writable_and_owned_by_the_sandbox_uid(
    bwrap: BwrapSandbox, workspace: Path
) -> None:
    result = run(bwrap, workspace, "echo changed > README.md && mkdir -p new/dir && echo x > new/f")
    assert result.exit_code == 0, text(result)
    assert (workspace / "README.md").read_text() == "changed\n"
    assert (workspace / "new" / "f").stat().st_uid == 65534


@pytest.mark.parametrize(
    "target",
    ["/etc/shoal-probe", "/usr/shoal-probe", "/usr/local/bin/shoal-probe", "/shoal-probe"],
    ids=["etc", "usr", "usr-local", "root-dir"],
)
def test_system_dirs_are_read_only(bwrap: BwrapSandbox, workspace: Path, target: str) -> None:
    result = run(bwrap, workspace, f"touch {target}")
    assert result.exit_code != 0
    assert "Read-only file system" in text(result)
    assert not Path(target).exists()


def test_host_paths_are_not_visible(bwrap: BwrapSandbox, workspace: Path, scratch: Path) -> None:
    secret = scratch / "host-secret"
    secret.write_text("do not read")
    secret.chmod(0o644)
    script = f"cat {secret}; ls /root; ls {workspace}; touch {scratch}/escape"
    result = run(bwrap, workspace, script)
    assert result.exit_code != 0
    assert "do not read" not in text(result)
    assert "No such file or directory" in text(result)
    assert not (scratch / "escape").exists()


def test_tmp_is_private_to_each_step(bwrap: BwrapSandbox, workspace: Path, marker: str) -> None:
    first = run(bwrap, workspace, f"echo secret > /tmp/{marker} && cat /tmp/{marker}")
    assert first.exit_code == 0
    assert text(first) == "secret\n"
    assert not Path("/tmp", marker).exists()
    second = run(bwrap, workspace, f"cat /tmp/{marker}")
    assert second.exit_code != 0


def test_network_is_denied(bwrap: BwrapSandbox, workspace: Path) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        connect = (
            f"python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), 2)\"; "
            f"echo py=$?; bash -c 'echo hi > /dev/tcp/127.0.0.1/{port}'; echo bash=$?; "
            "python3 -c \"import socket; socket.create_connection(('192.0.2.1', 80), 2)\""
        )
        result = run(bwrap, workspace, connect)
        server.settimeout(0.5)
        with pytest.raises(TimeoutError):
            server.accept()
    output = text(result)
    assert "ConnectionRefusedError" in output
    assert "py=1" in output
    assert "bash=1" in output
    assert "Network is unreachable" in output
    interfaces = run(bwrap, workspace, "tail -n +3 /proc/net/dev | cut -d: -f1")
    assert text(interfaces).split() == ["lo"]


def test_host_environment_is_not_visible(
    bwrap: BwrapSandbox, workspace: Path, monkeypatch: pytest.MonkeyPatch, marker: str
) -> None:
    monkeypatch.setenv("SHOAL_SECRET", marker)
    result = run(bwrap, workspace, "env; cat /proc/1/environ", STEP_VAR="given")
    assert result.exit_code == 0
    assert marker not in text(result)
    assert "STEP_VAR=given" in text(result)
    assert "SHOAL_SECRET" not in text(result)


def test_step_env_never_appears_in_host_argv(
    bwrap: BwrapSandbox, workspace: Path, marker: str
) -> None:
    seen: list[str] = []

    def scan() -> None:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            for entry in filter(str.isdigit, os.listdir("/proc")):
                try:
                    cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
                except OSError:
                    continue
                if b"sleep 2" in cmdline:
                    seen.append(cmdline.decode(errors="replace"))
                    if marker.encode() in cmdline:
                        seen.append("LEAK")
            time.sleep(0.05)

    scanner = threading.Thread(target=scan)
    scanner.start()
    result = run(bwrap, workspace, 'sleep 2; test -n "$TOKEN"', TOKEN=marker)
    scanner.join()
    assert result.exit_code == 0
    assert seen, "the scan should have seen the running step"
    assert "LEAK" not in seen


def test_timeout_kills_the_step_and_all_its_children(
    bwrap: BwrapSandbox, workspace: Path, marker: str
) -> None:
    script = (
        "sleep 1000 & setsid sleep 1000 & (sleep 1000 &) ; "
        "sh -c '(sleep 1000 &) ; sleep 1000' & echo started; sleep 1000"
    )
    holder: list[StepRun] = []
    started = time.monotonic()
    step = threading.Thread(
        target=lambda: holder.append(
            bwrap.run(
                script, workspace=workspace, env={"M": marker}, limits=StepLimits(timeout_s=2)
            )
        )
    )
    step.start()
    while len(processes_with(marker)) < 6 and time.monotonic() - started < 2:
        time.sleep(0.05)
    assert len(processes_with(marker)) >= 6, "the step's processes should be running"
    step.join(timeout=10)
    [result] = holder
    assert result.timed_out
    assert result.exit_code is None
    assert text(result) == "started\n"
    assert 2 <= result.duration_s < 5
    deadline = time.monotonic() + 3
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with(marker) == []


def test_background_processes_do_not_outlive_a_finished_step(
    bwrap: BwrapSandbox, workspace: Path, marker: str
) -> None:
    result = bwrap.run(
        "setsid sleep 1000 & sleep 1000 & echo done",
        workspace=workspace,
        env={"M": marker},
        limits=LIMITS,
    )
    assert result.exit_code == 0
    assert not result.timed_out
    assert result.duration_s < 5
    deadline = time.monotonic() + 3
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with(marker) == []


def test_a_gigabyte_of_output_is_capped(bwrap: BwrapSandbox, workspace: Path) -> None:
    size = 1_000_000_000
    limit = 1 << 20
    tracemalloc.start()
    try:
        started = time.monotonic()
        result = bwrap.run(
            f"printf START; head -c {size} /dev/zero; printf END",
            workspace=workspace,
            env={},
            limits=StepLimits(timeout_s=60, max_output_bytes=limit),
        )
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.exit_code == 0
    assert result.output_head.startswith(b"START\0")
    assert result.output_tail.endswith(b"\0END")
    assert len(result.output_head) == len(result.output_tail) == limit // 2
    assert result.output_dropped == size + 8 - limit
    assert peak < 8 * limit
    assert elapsed < 20


@pytest.mark.parametrize(
    ("script", "code"),
    [("true", 0), ("exit 3", 3), ("exit 255", 255), ("kill -TERM $$", 143), ("kill -9 $$", 137)],
    ids=["ok", "exit-3", "exit-255", "sigterm", "sigkill"],
)
def test_exit_codes_are_propagated(
    bwrap: BwrapSandbox, workspace: Path, script: str, code: int
) -> None:
    result = run(bwrap, workspace, script)
    assert result.exit_code == code
    assert not result.timed_out


def test_stdin_is_empty(bwrap: BwrapSandbox, workspace: Path) -> None:
    result = run(bwrap, workspace, "cat; echo done")
    assert (result.exit_code, text(result)) == (0, "done\n")


def test_rlimits_apply_inside(bwrap: BwrapSandbox, workspace: Path) -> None:
    limits = StepLimits(
        timeout_s=20,
        max_open_files=321,
        max_processes=777,
        max_file_bytes=1 << 20,
        memory_bytes=3 << 30,
    )
    # dash's ulimit: -p is processes, -v is address space in KiB.
    script = (
        "ulimit -n; ulimit -p; ulimit -v; ulimit -n 4096 || echo raise-denied; "
        "head -c 2000000 /dev/zero > big"
    )
    result = bwrap.run(script, workspace=workspace, env={}, limits=limits)
    lines = text(result).splitlines()
    assert lines[:3] == ["321", "777", str(3 << 20)]
    assert "raise-denied" in lines
    assert result.exit_code != 0
    assert (workspace / "big").stat().st_size == 1 << 20


def test_memory_limit_applies(bwrap: BwrapSandbox, workspace: Path) -> None:
    script = "python3 -c 'b = bytearray(300 * 1024 * 1024)'"
    result = bwrap.run(
        script, workspace=workspace, env={}, limits=StepLimits(timeout_s=20, memory_bytes=200 << 20)
    )
    assert result.exit_code == 1
    assert b"MemoryError" in result.output_head


def test_nested_user_namespaces_are_denied(bwrap: BwrapSandbox, workspace: Path) -> None:
    result = run(bwrap, workspace, "unshare --user --map-root-user id -u")
    assert result.exit_code != 0
    assert "unshare failed" in text(result)


def test_prepare_does_not_follow_symlinks(bwrap: BwrapSandbox, scratch: Path) -> None:
    outside = scratch / "outside.txt"
    outside.write_text("root's")
    tree = scratch / "ws"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "link").symlink_to(outside)
    (tree / "dirlink").symlink_to(scratch)
    bwrap.prepare(tree)
    assert (tree / "sub").stat().st_uid == 65534
    assert (tree / "sub" / "link").lstat().st_uid == 65534
    assert outside.stat().st_uid == 0
    assert scratch.stat().st_uid == 0


def test_prepare_rejects_a_workspace_65534_cannot_reach(bwrap: BwrapSandbox, scratch: Path) -> None:
    private = scratch / "private"
    (private / "ws").mkdir(parents=True)
    private.chmod(0o700)
    with pytest.raises(SandboxUnavailableError, match="not searchable"):
        bwrap.prepare(private / "ws")


def test_a_missing_tool_says_how_to_install_it() -> None:
    with pytest.raises(SandboxUnavailableError, match="apt-get install bubblewrap"):
        find_tool("bwrap-not-installed", package="bubblewrap")


@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="needs the system python3")
def test_an_unprivileged_worker_maps_itself_to_65534(scratch: Path) -> None:
    # The venv's interpreter lives under /root, out of reach of another uid: the system
    # python3 runs the sandbox code (which needs only the standard library) as uid 12345.
    program = (
        "import pathlib, sys\n"
        "from shoal.executors import BwrapSandbox, StepLimits\n"
        "ws = pathlib.Path(sys.argv[1])\n"
        "sandbox = BwrapSandbox()\n"
        "sandbox.prepare(ws)\n"
        "r = sandbox.run('id -u; touch made', workspace=ws, env={}, limits=StepLimits(10))\n"
        "print(r.exit_code, r.output_head.decode().strip())\n"
    )
    ws = scratch / "ws"
    ws.mkdir()
    os.chown(ws, 12345, 12345)
    setpriv = shutil.which("setpriv")
    assert setpriv is not None
    as_uid_12345 = [setpriv, "--reuid=12345", "--regid=12345", "--clear-groups"]
    completed = subprocess.run(
        [*as_uid_12345, "/usr/bin/python3", "-c", program, str(ws)],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(SRC)},
        cwd="/",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert completed.stdout.strip() == "0 65534", completed.stderr
    assert (ws / "made").stat().st_uid == 12345


def test_extra_read_only_binds_are_visible_but_not_writable(scratch: Path, workspace: Path) -> None:
    tools = scratch / "tools"
    tools.mkdir()
    (tools / "tool.sh").write_text("echo tool ran\n")
    tools.chmod(0o755)
    sandbox = BwrapSandbox(extra_ro_binds=[tools])
    result = run(sandbox, workspace, f"sh {tools}/tool.sh && touch {tools}/new")
    assert text(result).startswith("tool ran\n")
    assert result.exit_code != 0
    assert not (tools / "new").exists()
