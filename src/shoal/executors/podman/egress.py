"""Egress for podman steps: none by default, an allowlist through a dedicated network.

A step whose execution has no allowlist runs with `--network none` (a loopback only). One
with an allowlist runs on a podman bridge network of its own allowlist
(`shoal-egress-<digest>`, made once, without podman's DNS server) with a /24 subnet out of
Shoal's range 10.231.0.0/16, and nftables rules in Shoal's table `inet shoal_egress` let
packets from that subnet through only to the allowed addresses and TCP ports. Everything else
from the range is rejected, including the worker's own host (its gateway address, its
services) and any DNS server. The rules sit in hooks that run before podman's own (priority
filter - 10), where a reject is final.

The rules of a subnet live in a chain named after the subnet (`subnet_<n>`) and are written
anew, in one nft transaction, before each step on it starts: a subnet handed to another
network later (its first network removed) never keeps the old allowlist, and a subnet with no
rules written yet (e.g. after a reboot emptied the table) falls through to the range's reject.

Host names are resolved by the worker when each step starts (IPv4); the step reaches the
addresses they had then, by name through its /etc/hosts, and its chain's rules are replaced
with those addresses. The network is IPv4 only, so IPv6 CIDRs are refused up front
(`shoal.domain.egress.egress_refusal`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from shoal.domain.egress import EgressRule
from shoal.domain.errors import InvalidInputError
from shoal.executors.podman.engine import Podman
from shoal.executors.sandbox import DEFAULT_PATH, SandboxUnavailableError
from shoal.executors.tools import find_tool

__all__ = ["EgressNetworks", "StepNetwork", "network_name"]

TABLE = "shoal_egress"
# The subnets of egress networks: 256 /24s, one per allowlist in use on this machine.
SUBNET_RANGE = ipaddress.IPv4Network("10.231.0.0/16")
_RESOLVE_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class StepNetwork:
    """What `podman run` gets for one step: its network and its /etc/hosts entries."""

    name: str
    subnet: str
    hosts: tuple[tuple[str, str], ...]  # (name, IPv4 address)

    def podman_args(self) -> list[str]:
        args = ["--network", self.name]
        for host, address in self.hosts:
            args += ["--add-host", f"{host}:{address}"]
        return args


def network_name(rules: Sequence[EgressRule]) -> str:
    """The podman network of an allowlist: `shoal-egress-<digest of the rules>`."""
    digest = hashlib.sha256(
        "\n".join(f"{r.cidr or ''} {r.host or ''} {r.ports}" for r in rules).encode()
    ).hexdigest()[:16]
    return f"shoal-egress-{digest}"


class EgressNetworks:
    """The networks and nftables rules of allowlists, made on first use."""

    def __init__(self, podman: Podman) -> None:
        self._podman = podman
        self._nft = find_tool("nft", package="nftables")
        self._lock = threading.Lock()

    def for_step(self, rules: Sequence[EgressRule]) -> StepNetwork:
        """The network of `rules`, its rules (re)written with fresh host addresses."""
        name = network_name(rules)
        digest = name.removeprefix("shoal-egress-")
        hosts = tuple((rule.host, _resolve(rule.host)) for rule in rules if rule.host is not None)
        with self._lock:
            subnet = self._subnet(name) or self._network(name, int(digest[:8], 16))
            self._write_rules(subnet, rules, dict(hosts))
        return StepNetwork(name, str(subnet), hosts)

    def _network(self, name: str, seed: int) -> ipaddress.IPv4Network:
        subnets = list(SUBNET_RANGE.subnets(new_prefix=24))
        error = ""
        for offset in range(len(subnets)):
            subnet = subnets[(seed + offset) % len(subnets)]
            made = self._podman.call(
                "network",
                "create",
                "--disable-dns",
                "--label",
                "shoal.egress=1",
                "--subnet",
                str(subnet),
                name,
            )
            found = self._subnet(name)  # ours, or another worker's made first
            if found is not None:
                return found
            error = made.stderr.strip()
            if "subnet" not in error:
                break  # not a subnet taken by another network: trying others will not help
        raise SandboxUnavailableError(
            f"podman could not create the egress network {name}: {error[-300:]}"
        )

    def _subnet(self, name: str) -> ipaddress.IPv4Network | None:
        inspected = self._podman.call(
            "network", "inspect", "--format", "{{range .Subnets}}{{.Subnet}} {{end}}", name
        )
        if inspected.returncode != 0:
            return None
        for text in inspected.stdout.split():
            subnet = ipaddress.ip_network(text)
            if isinstance(subnet, ipaddress.IPv4Network) and subnet.subnet_of(SUBNET_RANGE):
                return subnet
        return None

    def _write_rules(
        self,
        subnet: ipaddress.IPv4Network,
        rules: Sequence[EgressRule],
        addresses: dict[str, str],
    ) -> None:
        chain = f"subnet_{subnet.network_address.packed[2]}"
        # The chain comes before the map in the script: nft 1.0.6 cannot add a map element
        # that jumps to a chain made after the map in the same transaction.
        lines = [
            f"table inet {TABLE} {{}}",
            f"add chain inet {TABLE} {chain}",
            f"flush chain inet {TABLE} {chain}",
            f"add rule inet {TABLE} {chain} ct state established,related accept",
        ]
        for rule in rules:
            destination = rule.cidr if rule.cidr is not None else addresses[str(rule.host)]
            ports = ", ".join(str(port) for port in rule.ports)
            lines.append(
                f"add rule inet {TABLE} {chain} ip daddr {destination} tcp dport {{ {ports} }} "
                "accept"
            )
        lines += [
            f"add rule inet {TABLE} {chain} reject with icmpx type admin-prohibited",
            f"add map inet {TABLE} subnets {{ type ipv4_addr : verdict; flags interval; }}",
            f"add element inet {TABLE} subnets {{ {subnet} : jump {chain} }}",
        ]
        for hook in ("forward", "input"):
            lines += [
                f"add chain inet {TABLE} {hook} {{ type filter hook {hook} priority filter - 10; "
                "policy accept; }",
                f"flush chain inet {TABLE} {hook}",
                f"add rule inet {TABLE} {hook} ip saddr vmap @subnets",
                f"add rule inet {TABLE} {hook} ip saddr {SUBNET_RANGE} "
                "reject with icmpx type admin-prohibited",
            ]
        done = subprocess.run(
            [self._nft, "-f", "-"],
            input="\n".join(lines) + "\n",
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env={"PATH": DEFAULT_PATH, "LANG": "C.UTF-8"},
        )
        if done.returncode != 0:
            raise SandboxUnavailableError(
                f"nft could not write the egress rules: {done.stderr.strip()[-300:]}"
            )


def _resolve(host: str) -> str:
    """One IPv4 address of `host`, as the worker's resolver has it now."""
    result: list[str] = []

    def lookup() -> None:
        try:
            infos = socket.getaddrinfo(host, 443, socket.AF_INET, socket.SOCK_STREAM)
        except OSError:
            return
        result.extend(sorted({str(info[4][0]) for info in infos}))

    # getaddrinfo has no timeout of its own.
    thread = threading.Thread(target=lookup, daemon=True)
    thread.start()
    thread.join(_RESOLVE_TIMEOUT_S)
    if not result:
        raise InvalidInputError(
            f"egress host {host!r} does not resolve to an IPv4 address from the worker"
        )
    return result[0]
