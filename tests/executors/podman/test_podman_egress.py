"""Egress with podman: nothing by default, and an allowlist opens exactly what it names.

Every address a step tries here is on this machine: the egress network's gateway (the host
seen from the container) and the host's own address, each with a listener of the test's.
"""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shoal.domain.egress import EgressRule, egress_refusal
from shoal.executors import StepLimits
from shoal.executors.podman import PodmanSandbox
from shoal.executors.podman.egress import TABLE, network_name
from tests.executors.podman.test_podman_sandbox import _host_address, text
from tests.podman_images import podman

ALLOWED_HOST = "proxy.shoal.test"


class Listener:
    """A TCP listener on every address that counts the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("0.0.0.0", 0))  # noqa: S104 (the test's own listener)
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.accepted: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except TimeoutError:
                continue
            self.accepted.append(peer[0])
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture
def listeners() -> Iterator[tuple[Listener, Listener]]:
    allowed, other = Listener(), Listener()
    yield allowed, other
    allowed.close()
    other.close()


@pytest.fixture
def allowlists() -> Iterator[list[tuple[EgressRule, ...]]]:
    """The allowlists a test runs steps with: their networks are removed after it (only
    theirs: tests in other processes may be using networks of their own meanwhile)."""
    used: list[tuple[EgressRule, ...]] = []
    yield used
    for rules in used:
        podman().call("network", "rm", "--force", network_name(rules))


@pytest.fixture
def workspace(scratch: Path, podman_sandbox: PodmanSandbox) -> Path:
    path = scratch / "workspace"
    path.mkdir()
    podman_sandbox.prepare(path)
    return path


def test_an_allowlist_reaches_what_it_names_and_nothing_else(
    podman_sandbox: PodmanSandbox,
    workspace: Path,
    listeners: tuple[Listener, Listener],
    monkeypatch: pytest.MonkeyPatch,
    allowlists: list[tuple[EgressRule, ...]],
) -> None:
    allowed, other = listeners
    host = _host_address()
    real = socket.getaddrinfo

    def resolver(name: str, *args: Any, **kwargs: Any) -> Any:
        # No DNS here: the allowed name resolves, for the worker, to this machine's address.
        if name == ALLOWED_HOST:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (host, 443))]
        return real(name, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    rules = (
        EgressRule(cidr="10.231.0.0/16", host=None, ports=(allowed.port,)),  # the gateways
        EgressRule(cidr=None, host=ALLOWED_HOST, ports=(allowed.port,)),
    )
    allowlists.append(rules)
    gateway = "$(awk '$2 == \"00000000\" {print $3}' /proc/net/route)"
    script = (
        # The default route's gateway, in /proc/net/route's little-endian hex.
        f"g={gateway}; gw=$(printf '%d.%d.%d.%d' 0x${{g#??????}} 0x$(echo $g | cut -c5-6) "
        "0x$(echo $g | cut -c3-4) 0x$(echo $g | cut -c1-2)); echo gateway=$gw; "
        f"git ls-remote http://$gw:{allowed.port}/x; echo gw-allowed=$?; "
        f"git ls-remote http://{ALLOWED_HOST}:{allowed.port}/x; echo name-allowed=$?; "
        f"git ls-remote http://$gw:{other.port}/x; echo gw-other=$?; "
        f"git ls-remote http://{host}:{other.port}/x; echo host-other=$?; "
        "getent hosts deb.debian.org; echo dns=$?"
    )
    result = podman_sandbox.run(
        script, workspace=workspace, env={}, limits=StepLimits(timeout_s=60), egress=rules
    )
    output = text(result)
    gateway_address = output.split("gateway=", 1)[1].split()[0]
    assert gateway_address.startswith("10.231."), output
    # Reached: the listener on the allowed port saw a connection from the step's container
    # (its 10.231.x address) to the gateway and one to the allowed name, each once.
    assert len(allowed.accepted) == 2, (allowed.accepted, output)
    assert all(peer.startswith("10.231.") for peer in allowed.accepted)
    # Refused: the other port, on either address, and DNS.
    assert other.accepted == [], output
    assert "Couldn't connect" in output
    assert "dns=0" not in output
    rules_now = subprocess.run(
        ["nft", "list", "table", "inet", TABLE], capture_output=True, text=True, check=True
    ).stdout
    assert f"tcp dport {allowed.port} accept" in rules_now
    assert "reject with icmpx admin-prohibited" in rules_now


def test_the_allowed_name_is_in_the_steps_hosts_file(
    podman_sandbox: PodmanSandbox,
    workspace: Path,
    monkeypatch: pytest.MonkeyPatch,
    allowlists: list[tuple[EgressRule, ...]],
) -> None:
    real = socket.getaddrinfo

    def resolver(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == ALLOWED_HOST:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.89.255.7", 443))]
        return real(name, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    rules = (EgressRule(cidr=None, host=ALLOWED_HOST, ports=(443,)),)
    allowlists.append(rules)
    result = podman_sandbox.run(
        f"getent hosts {ALLOWED_HOST}",
        workspace=workspace,
        env={},
        limits=StepLimits(timeout_s=30),
        egress=rules,
    )
    assert text(result).split() == ["10.89.255.7", ALLOWED_HOST]


def test_without_an_allowlist_a_step_has_no_network(
    podman_sandbox: PodmanSandbox, workspace: Path
) -> None:
    result = podman_sandbox.run(
        "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '",
        workspace=workspace,
        env={},
        limits=StepLimits(timeout_s=30),
    )
    assert text(result).split() == ["lo"]


def test_ipv6_blocks_are_refused_for_podman() -> None:
    rules = [EgressRule(cidr="2001:db8::/32", host=None, ports=(443,))]
    refusal = egress_refusal(rules, "podman")
    assert refusal is not None
    assert "IPv4 only" in refusal
    assert (
        egress_refusal([EgressRule(cidr="10.1.0.0/16", host=None, ports=(443,))], "podman") is None
    )
