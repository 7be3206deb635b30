"""The simulator's mutation ledger and Shoal's audit log must tell the same story."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from tests.e2e.conftest import Stack


def mutation_key(operation: str, repo: str | None, request_id: str | None) -> tuple[str, str, str]:
    """What pairs a ledger entry with its audit row: git pushes by repository, REST and
    GraphQL calls by GitHub's request id (git pushes carry none on the client side)."""
    return (operation, (repo or "").lower(), "" if operation == "git push" else request_id or "")


def audited_mutations(stack: Stack) -> list[dict[str, Any]]:
    """The `github.mutation` events of Shoal's audit log, all of them."""
    with stack.client() as http:
        lines = http.get("/audit/export").text.splitlines()
    return [e for e in map(json.loads, lines) if e["action"] == "github.mutation"]


def assert_audit_matches_ledger(stack: Stack) -> list[dict[str, Any]]:
    """Every GitHub mutation Shoal made appears once in its audit log, and nothing else."""
    ledger = stack.mutations()
    audited = Counter(
        mutation_key(e["details"].get("operation", ""), e["repo"], e["request_id"])
        for e in audited_mutations(stack)
    )
    seen = Counter(mutation_key(m["operation"], m["repo"], m["request_id"]) for m in ledger)
    assert audited == seen, (
        f"only in the audit log: {audited - seen}\nonly in the simulator's ledger: {seen - audited}"
    )
    return ledger
