"""`egress`: the network destinations a campaign's steps may reach (none unless listed)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, model_validator

from shoal.domain.egress import (
    MAX_EGRESS_RULES,
    MAX_PORTS_PER_RULE,
    EgressRule,
    normalize_cidr,
    normalize_host,
    normalize_ports,
)
from shoal.domain.errors import InvalidInputError
from shoal.spec.base import SpecModel, spec_error

__all__ = ["Egress", "EgressAllow"]


def _checked(normalize: Any) -> Any:
    def check(value: Any) -> Any:
        try:
            return normalize(value)
        except InvalidInputError as exc:
            raise spec_error(exc.message) from None

    return check


def _ports(value: list[int]) -> list[int]:
    return list(_checked(normalize_ports)(value))


class EgressAllow(SpecModel):
    """One destination steps may reach: a CIDR block or a host name, and its TCP ports."""

    cidr: Annotated[str, AfterValidator(_checked(normalize_cidr))] | None = Field(
        default=None,
        description="An IPv4/IPv6 block like '10.20.0.0/16', or one address.",
    )
    host: Annotated[str, AfterValidator(_checked(normalize_host))] | None = Field(
        default=None,
        description="A host name like 'registry.npmjs.org' (no wildcards). The Kubernetes "
        "executor refuses host names: NetworkPolicies allow addresses only.",
    )
    ports: Annotated[list[int], AfterValidator(_ports)] = Field(
        description="TCP ports allowed to this destination (1-65535).",
        json_schema_extra={"minItems": 1, "maxItems": MAX_PORTS_PER_RULE},
    )

    @model_validator(mode="after")
    def _one_destination(self) -> EgressAllow:
        if (self.cidr is None) == (self.host is None):
            raise spec_error("name exactly one of 'cidr' and 'host'")
        return self

    def rule(self) -> EgressRule:
        return EgressRule(cidr=self.cidr, host=self.host, ports=tuple(self.ports))


def _bounded(rules: list[EgressAllow]) -> list[EgressAllow]:
    if not rules:
        raise spec_error("must list at least one destination (or leave 'egress' out)")
    if len(rules) > MAX_EGRESS_RULES:
        raise spec_error(f"lists {len(rules)} destinations; at most {MAX_EGRESS_RULES}")
    return sorted(rules, key=lambda rule: (rule.cidr or "", rule.host or "", rule.ports))


class Egress(SpecModel):
    """Where steps may connect. Without it they reach no network at all."""

    allow: Annotated[list[EgressAllow], AfterValidator(_bounded)] = Field(
        description="Destinations steps may reach, added to the server's own allowlist "
        "(SHOAL_EGRESS_ALLOW). Order does not matter.",
        json_schema_extra={"minItems": 1, "maxItems": MAX_EGRESS_RULES},
    )

    def rules(self) -> tuple[EgressRule, ...]:
        return tuple(entry.rule() for entry in self.allow)
