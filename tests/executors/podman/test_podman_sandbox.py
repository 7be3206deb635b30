"""The podman sandbox, for real: each step in a container of the step image built here.

A hostile step is the premise: each test below has a step try something (reach the network,
write outside its workspace, read the worker's files, environment or credentials, outlive its
timeout) and asserts that it failed or found nothing.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from shoal.executors import SandboxUnavailableError, StepLimits, StepRun
from shoal.executors.podman import PodmanSandbox
from tests.executors.conftest import processes_with
from tests.podman_images import podman


def run(
    sandbox: PodmanSandbox, workspace: Path, script: str, timeout_s: float = 60, **env: str
) -> StepRun:
    return sandbox.run(script, workspace=workspace, env=env, limits=StepLimits(timeout_s=timeout_s))


def text(result: StepRun) -> str:
    return (result.output_head + result.output_tail).decode()


@pytest.fixture
def workspace(scratch: Path, podman_sandbox: PodmanSandbox) -> Path:
    path = scratch / "workspace"
    path.mkdir()
    (path / "README.md").write_text("hello\n")
    podman_sandbox.prepare(path)
    return path


def containers() -> list[str]:
    listed = podman().call("ps", "--all", "--format", "{{.Names}}")
    assert listed.returncode == 0, listed.stderr
    return listed.stdout.split()


def test_step_runs_as_65534_in_its_workspace_which_it_may_change(
    podman_sandbox: PodmanSandbox, workspace: Path
) -> None:
    result = run(podman_sandbox, workspace, "id -u; id -g; pwd; cat README.md; echo new > new.txt")
    assert result.exit_code == 0, text(result)
    assert text(result).split() == ["65534", "65534", "/workspace", "hello"]
    assert (workspace / "new.txt").read_text() == "new\n"
    assert (workspace / "new.txt").stat().st_uid == 65534


@pytest.mark.parametrize(
    "target", ["/etc/passwd", "/usr/bin/evil", "/evil", "/var/tmp/x", "/run/x"]
)
def test_everything_outside_the_workspace_and_tmp_is_read_only(
    podman_sandbox: PodmanSandbox, workspace: Path, target: str
) -> None:
    result = run(podman_sandbox, workspace, f"echo owned >> {target}")
    assert result.exit_code != 0
    assert "Read-only file system" in text(result) or "Permission denied" in text(result)


def test_no_capabilities_and_no_privilege_gain(
    podman_sandbox: PodmanSandbox, workspace: Path
) -> None:
    result = run(
        podman_sandbox, workspace, "grep -E '^(CapEff|CapBnd|CapPrm|NoNewPrivs)' /proc/self/status"
    )
    fields = dict(line.split(":\t") for line in text(result).splitlines())
    assert fields == {
        "CapPrm": "0000000000000000",
        "CapEff": "0000000000000000",
        "CapBnd": "0000000000000000",
        "NoNewPrivs": "1",
    }


def _host_address() -> str:
    """This machine's address on its default route (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))
        return str(probe.getsockname()[0])


def test_the_network_is_unreachable(podman_sandbox: PodmanSandbox, workspace: Path) -> None:
    host = _host_address()
    with socket.socket() as server:
        server.bind(("0.0.0.0", 0))  # noqa: S104 (the test's own listener, on every address)
        server.listen()
        port = server.getsockname()[1]
        script = (
            f"git ls-remote http://{host}:{port}/x; echo host=$?; "
            f"git ls-remote http://127.0.0.1:{port}/x; echo loopback=$?; "
            "git ls-remote http://169.254.169.254/latest/meta-data/; echo metadata=$?; "
            "getent hosts deb.debian.org; echo dns=$?; "
            "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"
        )
        result = run(podman_sandbox, workspace, script)
        server.settimeout(0.5)
        with pytest.raises(TimeoutError):
            server.accept()
    output = text(result)
    for probe in ("host", "loopback", "metadata", "dns"):
        assert f"{probe}=0" not in output
        assert f"{probe}=" in output
    assert "Network is unreachable" in output or "Couldn't connect" in output
    assert output.strip().splitlines()[-1] == "lo"


def test_the_workers_environment_files_and_credentials_are_out_of_reach(
    podman_sandbox: PodmanSandbox,
    workspace: Path,
    scratch: Path,
    monkeypatch: pytest.MonkeyPatch,
    marker: str,
) -> None:
    # What a worker holds: credentials in its environment, a mounted secret, a key in its
    # home, and the scratch dir next to the workspace (where the baseline lives).
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", marker)
    monkeypatch.setenv("SHOAL_GITHUB_PRIVATE_KEY", marker)
    secrets = Path("/run/secrets-" + marker[-12:])
    secrets.mkdir()
    home_key = Path.home() / f".{marker}"
    try:
        (secrets / "token").write_text(marker)
        home_key.write_text(marker)
        (scratch / "baseline").write_text(marker)
        script = (
            "env; cat /proc/1/environ; cat /proc/*/environ 2>/dev/null; "
            "cat /etc/shadow; echo shadow=$?; "
            f"ls /root {secrets}; echo listed=$?; "
            f"grep -rl {marker} / --exclude-dir=proc --exclude-dir=sys 2>/dev/null; "
            "echo searched"
        )
        result = run(podman_sandbox, workspace, script, timeout_s=120)
    finally:
        home_key.unlink()
        (secrets / "token").unlink()
        secrets.rmdir()
    output = text(result)
    assert "searched" in output
    assert marker not in output
    assert "AWS_SECRET_ACCESS_KEY" not in output
    assert "SHOAL_GITHUB_PRIVATE_KEY" not in output
    assert "shadow=0" not in output  # the image's own /etc/shadow, and 65534 cannot read it
    assert "listed=0" not in output


def test_the_step_sees_its_own_env_exactly(podman_sandbox: PodmanSandbox, workspace: Path) -> None:
    value = 'it\'s "quoted"\n$HOME `id` \\ end'
    result = run(
        podman_sandbox, workspace, 'printf %s "$TRICKY"; echo; echo "$HOME $TMPDIR"', TRICKY=value
    )
    assert result.exit_code == 0
    assert text(result) == f"{value}\n/tmp /tmp\n"
    path = run(podman_sandbox, workspace, 'echo "$PATH"')
    assert text(path).strip() == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def test_step_env_never_appears_in_host_argv(
    podman_sandbox: PodmanSandbox, workspace: Path, marker: str
) -> None:
    seen: list[str] = []

    def scan() -> None:
        deadline = time.monotonic() + 2.5
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
    result = run(podman_sandbox, workspace, 'sleep 2; test -n "$TOKEN"', TOKEN=marker)
    scanner.join()
    assert result.exit_code == 0
    assert seen, "the scan should have seen the running step"
    assert "LEAK" not in seen


def test_tmp_is_a_private_size_limited_tmpfs(step_image: str, workspace: Path) -> None:
    sandbox = PodmanSandbox(podman(), default_image=step_image, tmp_size_bytes=1 << 20)
    result = run(sandbox, workspace, "head -c 2000000 /dev/zero > /tmp/big; echo $?; df -k /tmp")
    output = text(result)
    assert "No space left on device" in output
    assert "tmpfs" in output
    assert "1024" in output


def test_timeout_kills_the_container_and_removes_it(
    podman_sandbox: PodmanSandbox, workspace: Path, marker: str
) -> None:
    name = "shoal-test-" + marker[-16:]
    started = time.monotonic()
    result = podman_sandbox.run(
        "echo started; sleep 1000 & setsid sleep 1000 & sleep 1000",
        workspace=workspace,
        env={"M": marker},
        limits=StepLimits(timeout_s=2),
        name=name,
    )
    assert result.timed_out
    assert result.exit_code is None
    assert text(result) == "started\n"
    assert 2 <= time.monotonic() - started < 15
    assert name not in containers()
    assert processes_with(marker) == []


def test_a_leftover_container_of_the_same_name_is_replaced(
    podman_sandbox: PodmanSandbox, workspace: Path, step_image: str, marker: str
) -> None:
    name = "shoal-test-" + marker[-16:]
    created = podman().call("create", "--name", name, step_image, "sleep", "1000")
    assert created.returncode == 0, created.stderr
    assert name in containers()
    result = podman_sandbox.run(
        "echo fresh", workspace=workspace, env={}, limits=StepLimits(30), name=name
    )
    assert text(result) == "fresh\n"
    assert name not in containers()


def test_memory_limit_kills_the_step_and_says_so(
    podman_sandbox: PodmanSandbox, workspace: Path
) -> None:
    result = podman_sandbox.run(
        'x=$(head -c 300000000 /dev/zero | tr "\\0" a); echo survived',
        workspace=workspace,
        env={},
        limits=StepLimits(timeout_s=60, memory_bytes=64 << 20),
    )
    assert result.memory_exceeded
    assert "survived" not in text(result)
    small = run(podman_sandbox, workspace, "x=$(head -c 1000 /dev/zero | tr '\\0' a); echo fine")
    assert not small.memory_exceeded
    assert text(small) == "fine\n"


def test_process_and_file_limits_apply(podman_sandbox: PodmanSandbox, workspace: Path) -> None:
    result = podman_sandbox.run(
        "ulimit -n; for i in $(seq 40); do sleep 5 & done; echo forked",
        workspace=workspace,
        env={},
        limits=StepLimits(timeout_s=30, max_processes=16, max_open_files=64),
    )
    output = text(result)
    assert output.splitlines()[0] == "64"
    assert "Resource temporarily unavailable" in output or "Cannot fork" in output


def test_exit_codes_and_output_come_back(podman_sandbox: PodmanSandbox, workspace: Path) -> None:
    result = run(podman_sandbox, workspace, "echo out; echo err >&2; exit 7")
    assert result.exit_code == 7
    assert sorted(text(result).split()) == ["err", "out"]


def test_a_missing_image_is_refused_with_how_to_get_it(
    podman_sandbox: PodmanSandbox, workspace: Path
) -> None:
    with pytest.raises(SandboxUnavailableError, match=r"build-images\.sh"):
        podman_sandbox.run(
            "true",
            workspace=workspace,
            env={},
            limits=StepLimits(10),
            image="localhost/shoal/no-such-image:1",
        )
