"""The one way Shoal runs git: the same hardening for the worker's and the publisher's git,
no transport but http(s) and only where a command talks to GitHub, and no git that outlives
its deadline or prints without end."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from shoal import git as hardened
from shoal.execution.git import Git, GitLimitError, GitLimits, init_repository
from shoal.publish import git as publish_git


def _contains(argv: list[str], part: tuple[str, ...]) -> bool:
    return any(tuple(argv[i : i + len(part)]) == part for i in range(len(argv)))


def test_execution_and_publish_give_git_the_same_hardening(tmp_path: Path) -> None:
    worker = Git(tmp_path / "g", tmp_path / "w", GitLimits()).argv(["status"])
    local = publish_git.argv(tmp_path / "p", ["read-tree", "HEAD"], network=False)
    network = publish_git.argv(tmp_path / "p", ["fetch", "x"], network=True)
    for argv in (worker, local, network):
        assert _contains(argv, hardened.HARDENING), argv
    # Only a command that talks to GitHub may use a protocol, and only http(s).
    assert _contains(network, hardened.NETWORK_HARDENING)
    assert not _contains(worker, hardened.NETWORK_HARDENING)
    assert not _contains(local, hardened.NETWORK_HARDENING)


def test_the_environment_is_built_from_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'core.fsmonitor'='/bin/false'")
    monkeypatch.setenv("GIT_DIR", "/elsewhere")
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_secret")
    env = hardened.environment(tmp_path / "home", network=True)
    assert set(env) == {
        "PATH", "HOME", "LC_ALL", "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL",
        "GIT_ATTR_NOSYSTEM", "GIT_NO_REPLACE_OBJECTS", "GIT_TERMINAL_PROMPT",
        "GIT_ALLOW_PROTOCOL",
    }  # fmt: skip
    assert env["GIT_ALLOW_PROTOCOL"] == "http:https"
    assert hardened.environment(tmp_path / "home")["GIT_ALLOW_PROTOCOL"] == ""


@pytest.mark.parametrize("network", [False, True])
def test_no_transport_but_http_is_allowed(tmp_path: Path, network: bool) -> None:
    source = tmp_path / "source.git"
    subprocess.run(["git", "init", "-q", "--bare", str(source)], check=True)
    git_dir = tmp_path / "repo.git"
    publish_git.init_bare(git_dir)
    marker = tmp_path / "ran"
    for url in (f"file://{source}", str(source), f"ext::sh -c touch% {marker}"):
        done = hardened.run(
            publish_git.argv(git_dir, ["ls-remote", url], network=network),
            env=publish_git.environment(git_dir, network=network),
            cwd=git_dir,
            timeout_s=30,
        )
        assert done.returncode != 0, url
        assert b"not allowed" in done.stderr, done.stderr
    assert not marker.exists()


def test_a_process_past_its_deadline_is_killed_with_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "child"
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        hardened.run(
            ["sh", "-c", f"sleep 60 & echo $! > {pid_file}; wait"],
            env={"PATH": os.defpath},
            cwd=tmp_path,
            timeout_s=0.5,
        )
    assert time.monotonic() - started < 10
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # the kill is delivered; the zombie is reaped by init
    status = Path(f"/proc/{child}/status")
    assert not status.exists() or "zombie" in status.read_text()


def test_output_past_the_cap_kills_the_process(tmp_path: Path) -> None:
    with pytest.raises(hardened.OutputLimitError):
        hardened.run(
            ["yes"], env={"PATH": os.defpath}, cwd=tmp_path, timeout_s=30, max_output_bytes=1 << 20
        )


def test_large_stdin_and_stdout_flow_both_ways(tmp_path: Path) -> None:
    data = os.urandom(3 << 20)
    done = hardened.run(["cat"], env={"PATH": os.defpath}, cwd=tmp_path, stdin=data, timeout_s=30)
    assert done.returncode == 0
    assert done.stdout == data


def test_a_sink_gets_the_output_instead(tmp_path: Path) -> None:
    chunks: list[bytes] = []
    done = hardened.run(
        ["head", "-c", "300000", "/dev/zero"],
        env={"PATH": os.defpath},
        cwd=tmp_path,
        timeout_s=30,
        sink=chunks.append,
    )
    assert done.stdout == b""
    assert sum(map(len, chunks)) == 300000


def test_the_workers_git_is_bounded_in_output(tmp_path: Path) -> None:
    git_dir = tmp_path / "g"
    init_repository(git_dir)
    work = tmp_path / "w"
    work.mkdir()
    (work / "big").write_bytes(b"x\n" * (1 << 20))
    git = Git(git_dir, work, GitLimits())
    git.run(["add", "--all"])
    with pytest.raises(GitLimitError, match="printed more than 1 MiB"):
        git.run(["show", ":big"], max_output_bytes=1 << 20)
