"""Pydantic's validation errors reworded for spec authors and placed at line and column."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from shoal.spec.base import SPEC_ERROR
from shoal.spec.errors import Path, SpecIssue, format_path
from shoal.spec.loader import Document
from shoal.spec.policy import DRIFT_TAGS
from shoal.spec.selection import SOURCE_TAGS

__all__ = ["issues_from_validation"]

# What a missing required field is for, so the message says what to write.
_MISSING_HINTS = {
    "name": "a slug like bump-checkout-v4",
    "on": "the repositories to change: search, org, repos or installation",
    "steps": "a list of steps, each with a name and a run script",
    "changeset": "the PR to open, with at least a title",
    "title": "the PR title",
    "run": "the shell script the step runs",
    "search": "a GitHub search query",
    "org": "an organization login",
    "repos": "a list of owner/repo",
}

_EXPECTED = {
    "string_type": "a string",
    "int_type": "a whole number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def issues_from_validation(exc: ValidationError, document: Document) -> list[SpecIssue]:
    """One issue per error, minus those under a path the loader already reported."""
    reported = {issue.path for issue in document.issues}
    issues: list[SpecIssue] = []
    for error in exc.errors():
        issue = _issue(error, document)
        if any(_is_within(issue.path, path) for path in reported) or issue in issues:
            continue
        issues.append(issue)
    return issues


def _issue(error: ErrorDetails, document: Document) -> SpecIssue:
    # Union tags are pydantic's bookkeeping, not part of the document's structure.
    path: Path = tuple(
        part for part in error["loc"] if part not in SOURCE_TAGS and part not in DRIFT_TAGS
    )
    at_key = False
    if path and path[-1] == "[key]":
        path, at_key = path[:-1], True
    kind = error["type"]
    if kind == SPEC_ERROR:
        ctx = error.get("ctx") or {}
        message = str(ctx.get("reason", error["msg"]))
        at_key = at_key or bool(ctx.get("at_key"))
    elif kind == "missing":
        field = str(path[-1])
        path = path[:-1]
        message = f"missing required field '{field}'"
        if field in _MISSING_HINTS:
            message += f" ({_MISSING_HINTS[field]})"
        at_key = True
    elif kind == "extra_forbidden":
        message, at_key = "unknown field", True
    elif kind == "literal_error":
        expected = (error.get("ctx") or {}).get("expected", "")
        message = f"expected {expected}, got {describe(error['input'])}"
    elif kind in _EXPECTED:
        message = f"expected {_EXPECTED[kind]}, got {describe(error['input'])}"
        if kind == "string_type" and isinstance(error["input"], bool | int | float):
            message += "; put it in quotes if you meant text"
    else:
        message = error["msg"]
    position = document.position(path, key=at_key)
    if position is None:
        return SpecIssue(format_path(path), message)
    return SpecIssue(format_path(path), message, position.line, position.column)


def describe(value: Any) -> str:
    """A value as the spec author wrote it, short enough for a one-line message."""
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, int | float):
        return f"the number {value}"
    kinds: dict[type[Any], str] = {list: "a list", dict: "a mapping"}
    return kinds.get(type(value), type(value).__name__)


def _is_within(path: str, ancestor: str) -> bool:
    return path == ancestor or path.startswith((ancestor + ".", ancestor + "["))
