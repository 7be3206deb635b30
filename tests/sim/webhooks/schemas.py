"""Validates webhook payloads against ``@octokit/openapi-webhooks`` (JSON Schema 2020-12)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.sim.openapi_conformance import ROOT

PACKAGE = ROOT / ".cache/octokit/node_modules/@octokit/openapi-webhooks/generated"


@cache
def _registry(spec_name: str) -> Registry:
    spec = json.loads((PACKAGE / f"{spec_name}.json").read_text())
    return Registry().with_resource(
        "urn:webhooks", Resource.from_contents(spec, default_specification=DRAFT202012)
    )


def schema_name(event: str, action: str | None) -> str:
    name = f"webhook-{event}" if action is None else f"webhook-{event}-{action}"
    return name.replace("_", "-")


@cache
def _validator(spec_name: str, name: str) -> Draft202012Validator:
    return Draft202012Validator(
        {"$ref": f"urn:webhooks#/components/schemas/{name}"}, registry=_registry(spec_name)
    )


@dataclass
class WebhookConformance:
    spec_name: str = "api.github.com"
    violations: list[str] = field(default_factory=list)
    exercised: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: str, payload: dict[str, Any]) -> None:
        action = payload.get("action")
        name = schema_name(event, action if isinstance(action, str) else None)
        problems = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"[:300]
            for e in _validator(self.spec_name, name).iter_errors(payload)
        ]
        with self._lock:
            self.exercised[name] += 1
            self.violations.extend(f"{name} ({self.spec_name}): {p}" for p in problems)
