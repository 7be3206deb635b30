"""`egress.allow` in the spec and `egress_allow` in the settings: validation and normalization."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shoal.config import EgressAllowEntry, Settings
from shoal.domain.egress import EgressRule, egress_refusal, egress_union
from shoal.spec import SpecInvalidError, parse_spec

BASE = """\
name: npm-bump
on:
  - repos: [acme/web]
steps:
  - name: bump
    run: "true"
changeset:
  title: bump
"""

ALLOW = """\
egress:
  allow:
    - host: Registry.NPMjs.org.
      ports: [443, 80, 443]
    - cidr: 10.20.0.0/16
      ports: [5432]
"""


def messages(text: str) -> list[str]:
    with pytest.raises(SpecInvalidError) as caught:
        parse_spec(text)
    return [issue.message for issue in caught.value.issues]


def test_a_spec_without_egress_hashes_as_before_the_field_existed() -> None:
    parsed = parse_spec(BASE)
    assert parsed.spec.egress is None
    assert "egress" not in parsed.canonical_json
    # The hash every existing campaign of this text has stored.
    assert parsed.spec_hash == parse_spec(BASE.replace("bump\n", "bump\n", 1)).spec_hash


def test_allow_entries_are_normalized_and_order_does_not_change_the_hash() -> None:
    parsed = parse_spec(BASE + ALLOW)
    assert parsed.spec.egress is not None
    assert parsed.spec.egress.rules() == (
        EgressRule(cidr=None, host="registry.npmjs.org", ports=(80, 443)),
        EgressRule(cidr="10.20.0.0/16", host=None, ports=(5432,)),
    )
    swapped = BASE + (
        "egress:\n  allow:\n    - {cidr: 10.20.0.0/16, ports: [5432]}\n"
        "    - {host: registry.npmjs.org, ports: [80, 443]}\n"
    )
    assert parse_spec(swapped).spec_hash == parsed.spec_hash
    assert parsed.spec_hash != parse_spec(BASE).spec_hash


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{cidr: 10.20.0.1/16, ports: [1]}", "has host bits set; the network is 10.20.0.0/16"),
        ("{cidr: example.org, ports: [1]}", "is not a CIDR block or IP address"),
        ("{host: '*.npmjs.org', ports: [443]}", "no wildcards"),
        ("{host: localhost, ports: [443]}", "at least two labels"),
        ("{host: 192.0.2.1, ports: [443]}", "is an IP address: write it as cidr"),
        ("{cidr: 192.0.2.1, host: a.example, ports: [1]}", "exactly one of 'cidr' and 'host'"),
        ("{ports: [1]}", "exactly one of 'cidr' and 'host'"),
        ("{cidr: 192.0.2.1, ports: []}", "at least one port"),
        ("{cidr: 192.0.2.1, ports: [70000]}", "port 70000 is not between 1 and 65535"),
        ("{cidr: 192.0.2.1, ports: [443], proto: udp}", "unknown field"),
    ],
)
def test_invalid_entries_are_refused_with_a_message(entry: str, message: str) -> None:
    found = messages(BASE + f"egress:\n  allow:\n    - {entry}\n")
    assert any(message in text for text in found), found


def test_an_empty_allowlist_is_refused() -> None:
    assert any("at least one destination" in m for m in messages(BASE + "egress: {allow: []}\n"))


def test_the_setting_takes_json_and_is_normalized(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOAL_EGRESS_ALLOW", '[{"cidr": "192.0.2.7", "ports": [443, 443]}]')
    monkeypatch.setenv("SHOAL_EXECUTOR", "local")
    # The local executor has no network to open: the setting is refused with its reason.
    with pytest.raises(ValidationError, match="local executor runs steps with no network"):
        Settings()
    monkeypatch.setenv("SHOAL_EGRESS_ALLOW", '[{"cidr": "192.0.2.7/24", "ports": [443]}]')
    with pytest.raises(ValidationError, match="host bits set"):
        Settings()
    monkeypatch.delenv("SHOAL_EGRESS_ALLOW")
    assert Settings().egress_allow == []
    entry = EgressAllowEntry.model_validate_json('{"cidr": "192.0.2.7", "ports": [443, 80, 443]}')
    assert entry.rule() == EgressRule(cidr="192.0.2.7/32", host=None, ports=(80, 443))


def test_what_each_executor_can_enforce() -> None:
    cidr = EgressRule(cidr="192.0.2.0/24", host=None, ports=(443,))
    host = EgressRule(cidr=None, host="registry.npmjs.org", ports=(443,))
    assert egress_refusal((), "local") is None
    assert "no network at all" in str(egress_refusal((cidr,), "local"))
    assert egress_refusal((cidr,), "kubernetes") is None
    refusal = egress_refusal((cidr, host), "kubernetes")
    assert refusal is not None and "registry.npmjs.org" in refusal and "CIDR" in refusal
    assert egress_refusal((cidr, host), "podman") is None


def test_union_merges_ports_per_destination() -> None:
    a = EgressRule(cidr="192.0.2.0/24", host=None, ports=(443,))
    b = EgressRule(cidr="192.0.2.0/24", host=None, ports=(80, 443))
    c = EgressRule(cidr=None, host="a.example", ports=(22,))
    assert egress_union([a], [b, c]) == (
        EgressRule(cidr=None, host="a.example", ports=(22,)),
        EgressRule(cidr="192.0.2.0/24", host=None, ports=(80, 443)),
    )
