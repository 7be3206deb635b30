"""The simulator's mutation ledger and Shoal's audit log must tell the same story."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from tests.e2e.conftest import Stack


def _key(operation: str, repo: str | None, request_id: str | None) -> tuple[str, str, str]:
    # git pushes carry no GitHub request id on the client side; REST and GraphQL do.
    return (operation, (repo or "").lower(), "" if operation == "git push" else request_id or "")


def assert_audit_matches_ledger(stack: Stack) -> list[dict[str, Any]]:
    """Every GitHub mutation Shoal made appears once in its audit log, and nothing else."""
    ledger = stack.mutations()
    with stack.client() as http:
        lines = http.get("/audit/export").text.splitlines()
    events = [e for e in map(json.loads, lines) if e["action"] == "github.mutation"]
    audited = Counter(
        _key(e["details"].get("operation", ""), e["repo"], e["request_id"]) for e in events
    )
    seen = Counter(_key(m["operation"], m["repo"], m["request_id"]) for m in ledger)
    assert audited == seen, (
        f"only in the audit log: {audited - seen}\nonly in the simulator's ledger: {seen - audited}"
    )
    return ledger
