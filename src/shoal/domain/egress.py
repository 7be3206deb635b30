"""Egress allowlist: the network destinations step containers may reach.

Steps reach nothing by default. An allowlist entry names one destination, a CIDR block or a
host name, and the TCP ports allowed to it. Entries come from the global setting
(`egress_allow`) and from a campaign's spec (`egress.allow`); an execution may reach the union
of both. The allowlist says nothing about Shoal's own artifact proxy or DNS, which an executor
opens for its runner itself.

Executors differ in what they can enforce: a Kubernetes NetworkPolicy matches addresses
(CIDRs) only, so there a host name is refused rather than resolved once and trusted forever
(`egress_refusal`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from shoal.domain.errors import InvalidInputError

__all__ = [
    "MAX_EGRESS_RULES",
    "MAX_PORTS_PER_RULE",
    "EgressRule",
    "egress_refusal",
    "egress_union",
    "normalize_cidr",
    "normalize_host",
    "normalize_ports",
]

MAX_EGRESS_RULES = 64
MAX_PORTS_PER_RULE = 16

# RFC 1123 labels; at least two labels (a bare "localhost" or "db" means whatever the node's
# resolver makes of it); no wildcards: a pattern cannot be enforced by either executor.
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")


@dataclass(frozen=True, slots=True)
class EgressRule:
    """One allowed destination: exactly one of `cidr` (normalized) and `host`, and its ports."""

    cidr: str | None
    host: str | None
    ports: tuple[int, ...]

    def __post_init__(self) -> None:
        if (self.cidr is None) == (self.host is None):
            raise InvalidInputError("an egress rule names exactly one of cidr and host")
        if not self.ports:
            raise InvalidInputError("an egress rule lists at least one port")

    @property
    def destination(self) -> str:
        return self.cidr if self.cidr is not None else str(self.host)

    def describe(self) -> str:
        return f"{self.destination} port{'s' if len(self.ports) > 1 else ''} " + ",".join(
            str(port) for port in self.ports
        )


def normalize_cidr(text: str) -> str:
    """`10.1.0.0/16` as written, a bare address as its /32 (/128); host bits set are refused."""
    value = text.strip()
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        if "has host bits set" in str(exc):
            loose = ipaddress.ip_network(value, strict=False)
            raise InvalidInputError(
                f"{value!r} has host bits set; the network is {loose.with_prefixlen}"
            ) from None
        raise InvalidInputError(
            f"{value!r} is not a CIDR block or IP address (e.g. 10.20.0.0/16 or 192.0.2.7)"
        ) from None
    return network.with_prefixlen


def normalize_host(text: str) -> str:
    value = text.strip().lower().rstrip(".")
    try:
        ipaddress.ip_address(value)
    except ValueError:
        pass
    else:
        raise InvalidInputError(f"{value!r} is an IP address: write it as cidr, not host")
    if len(value) > 253 or not _HOST.fullmatch(value):
        raise InvalidInputError(
            f"{text!r} is not a host name (letters, digits and '-' in dot-separated labels, "
            "at least two labels, no wildcards)"
        )
    return value


def normalize_ports(ports: Iterable[int]) -> tuple[int, ...]:
    values = sorted(set(ports))
    if not values:
        raise InvalidInputError("list at least one port")
    if len(values) > MAX_PORTS_PER_RULE:
        raise InvalidInputError(f"at most {MAX_PORTS_PER_RULE} ports per rule")
    for port in values:
        if not 1 <= port <= 65535:
            raise InvalidInputError(f"port {port} is not between 1 and 65535")
    return tuple(values)


def egress_union(*lists: Iterable[EgressRule]) -> tuple[EgressRule, ...]:
    """All rules of all lists, each destination once with the union of its ports, sorted."""
    ports: dict[tuple[str | None, str | None], set[int]] = {}
    for rules in lists:
        for rule in rules:
            ports.setdefault((rule.cidr, rule.host), set()).update(rule.ports)
    merged = (
        EgressRule(cidr=cidr, host=host, ports=tuple(sorted(values)))
        for (cidr, host), values in ports.items()
    )
    return tuple(sorted(merged, key=lambda rule: (rule.cidr or "", rule.host or "")))


def egress_refusal(rules: Iterable[EgressRule], executor: str) -> str | None:
    """Why `executor` cannot enforce `rules` (None: it can).

    `local` runs steps in a sandbox with no network at all, so it allows nothing; `kubernetes`
    allows CIDRs only (NetworkPolicies match addresses, not names); `podman` allows both, IPv4
    only (its step networks have no IPv6).
    """
    rules = tuple(rules)
    if not rules:
        return None
    if executor == "local":
        shown = ", ".join(rule.describe() for rule in rules)
        return (
            f"the egress allowlist names {shown}, but the local executor runs steps with no "
            "network at all and cannot allow any: use the podman or kubernetes executor "
            "(SHOAL_EXECUTOR), or remove the allowlist"
        )
    v6 = [rule.cidr for rule in rules if rule.cidr is not None and ":" in rule.cidr]
    if executor == "podman" and v6:
        return (
            f"the egress allowlist names IPv6 block(s) {', '.join(v6)}, but the podman "
            "executor's step networks are IPv4 only: allow IPv4 addresses, or a host name "
            "(resolved to IPv4 when each step starts)"
        )
    hosts = [rule.host for rule in rules if rule.host is not None]
    if executor == "kubernetes" and hosts:
        return (
            f"the egress allowlist names host(s) {', '.join(hosts)}, but the kubernetes "
            "executor can only allow CIDR blocks: NetworkPolicies match addresses, not names, "
            "and an address resolved once would stay trusted after the name moved. Allow the "
            "addresses instead (cidr: 192.0.2.0/24, ports: [443]), or an egress proxy by its "
            "address"
        )
    return None
