"""Checks simulator REST responses against GitHub's OpenAPI description (@octokit/openapi).

Every response the simulator serves during the tests goes through :class:`Conformance`:
the status must be documented for the operation (errors may fall back to GitHub's generic
error shapes) and the body must validate against that status's schema, with OpenAPI 3.0
``nullable`` semantics. Violations fail the test that produced them.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from openapi_schema_validator import OAS30Validator

from shoal_sim.simulator import ServedResponse

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / ".cache/octokit/node_modules/@octokit/openapi/generated"
GENERIC_ERRORS = ("basic-error", "validation-error")

# Operations whose published response schema no real response can satisfy, validated against
# the schema GitHub's description means instead. `GET /app/installations` inlines the
# installation with `account` as `allOf [simple-user, enterprise]` (an org account is never
# both); the shared `installation` component says `anyOf`, which is what GitHub returns
# (upstream: github/rest-api-description#2497).
SCHEMA_OVERRIDES: dict[tuple[str, str, int], dict[str, Any]] = {
    ("GET", "/app/installations", 200): {
        "type": "array",
        "items": {"$ref": "#/components/schemas/installation"},
    },
    # A directory's contents are an array (`content-directory`), but the description's
    # `discriminator` (on the property `type`) makes the validator demand an object. The
    # same `oneOf` without it.
    ("GET", "/repos/{owner}/{repo}/contents/{path}", 200): {
        "oneOf": [
            {"$ref": "#/components/schemas/content-directory"},
            {"$ref": "#/components/schemas/content-file"},
            {"$ref": "#/components/schemas/content-symlink"},
            {"$ref": "#/components/schemas/content-submodule"},
        ]
    },
    # The description's `oneOf` [basic-error, repository-rule-violation-error] admits no
    # body at all: every basic error is also a rule-violation error. Either one will do.
    ("PUT", "/repos/{owner}/{repo}/contents/{path}", 409): {
        "anyOf": [
            {"$ref": "#/components/schemas/basic-error"},
            {"$ref": "#/components/schemas/repository-rule-violation-error"},
        ]
    },
}


def install_schemas() -> Path:
    subprocess.run([str(ROOT / "scripts/fetch-github-schemas.sh")], check=True, timeout=300)
    return PACKAGE


def _allow_null_in_nullable_enums(node: Any) -> None:
    """OpenAPI 3.0.3 says `nullable: true` admits null even where an `enum` omits it; the
    validator reads the enum literally. GitHub sends e.g. `conclusion: null` for a running
    check run, so spell the null out in such enums."""
    if isinstance(node, dict):
        enum = node.get("enum")
        if node.get("nullable") is True and isinstance(enum, list) and None not in enum:
            enum.append(None)
        for value in node.values():
            _allow_null_in_nullable_enums(value)
    elif isinstance(node, list):
        for value in node:
            _allow_null_in_nullable_enums(value)


# Operations GitHub serves that its description no longer lists, checked against the
# documented operation that answers the same way.
UNDOCUMENTED = {
    ("GET", "/repos/{owner}/{repo}/git/refs"): (
        "GET",
        "/repos/{owner}/{repo}/git/matching-refs/{ref}",
    ),
    ("GET", "/repositories/{repository_id}"): ("GET", "/repos/{owner}/{repo}"),
}


@cache
def load_spec(name: str) -> dict[str, Any]:
    spec = dict(json.loads((PACKAGE / f"{name}.json").read_text()))
    _allow_null_in_nullable_enums(spec)
    return spec


@dataclass
class Conformance:
    violations: list[str] = field(default_factory=list)
    exercised: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _validators: dict[tuple[str, str], OAS30Validator] = field(default_factory=dict)

    def _validator(self, spec_name: str, pointer: tuple[str, ...]) -> OAS30Validator:
        key = (spec_name, "/".join(pointer))
        if key not in self._validators:
            spec = load_spec(spec_name)
            node: Any = spec
            for part in pointer:
                node = node[part]
            # The schema's own "$ref"s point into the document, so give it the components.
            self._validators[key] = OAS30Validator({**node, "components": spec["components"]})
        return self._validators[key]

    def __call__(self, served: ServedResponse) -> None:
        spec_name = "ghes-3.19" if served.ghes_path else "api.github.com"
        label = f"{served.method} {served.path} -> {served.status} ({spec_name})"
        problems = self.check(spec_name, served)
        with self._lock:
            self.exercised[f"{served.method} {served.path} {served.status}"] += 1
            self.violations.extend(f"{label}: {p}" for p in problems)

    def check(self, spec_name: str, served: ServedResponse) -> list[str]:  # noqa: PLR0911
        spec = load_spec(spec_name)
        method, path = UNDOCUMENTED.get((served.method, served.path), (served.method, served.path))
        operation = spec["paths"].get(path, {}).get(method.lower())
        if operation is None:
            return [f"operation not in {spec_name}"]
        if served.content_type is not None and "json" not in served.content_type:
            # Custom media types (e.g. contents as `application/vnd.github.raw`): the
            # description documents only their JSON twins.
            return []
        responses = operation["responses"]
        status = str(served.status)
        if served.status == 304:
            # GitHub answers conditional GETs with 304 everywhere, documented or not.
            return [] if not served.body else ["304 with a body"]
        if served.status in (301, 307):
            # GitHub redirects every path of a renamed repository, documented or not.
            return self._check_generic(served)
        if status not in responses:
            if served.status < 400:
                return ["status not documented"]
            return self._check_generic(served)
        response = responses[status]
        pointer: tuple[str, ...] = (
            "paths",
            path,
            method.lower(),
            "responses",
            status,
        )
        if "$ref" in response:
            pointer = tuple(response["$ref"].removeprefix("#/").split("/"))
            response = spec
            for part in pointer:
                response = response[part]
        content = response.get("content", {}).get("application/json")
        if content is None:
            if served.status >= 400:
                return self._check_generic(served)  # e.g. DELETE git/refs 422 has no schema
            return (
                []
                if not served.body or served.content_type is None
                else [f"body not documented: {served.body[:80]!r}"]
            )
        body = json.loads(served.body)
        override = SCHEMA_OVERRIDES.get((served.method, served.path, served.status))
        if override is not None:
            validator = OAS30Validator({**override, "components": spec["components"]})
        else:
            validator = self._validator(
                spec_name, (*pointer, "content", "application/json", "schema")
            )
        return [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"[:300]
            for e in validator.iter_errors(body)
        ]

    def _check_generic(self, served: ServedResponse) -> list[str]:
        body = json.loads(served.body)
        for name in GENERIC_ERRORS:
            validator = self._validator("api.github.com", ("components", "schemas", name))
            if not list(validator.iter_errors(body)):
                return []
        return [f"undocumented error body is not a GitHub error: {served.body[:120]!r}"]
