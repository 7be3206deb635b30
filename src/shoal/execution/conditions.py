"""A step's `if:`: a Jinja2 template rendered in a sandbox against the execution's context."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment

from shoal.domain.errors import InvalidInputError

__all__ = ["ConditionError", "condition_holds"]

# What a template renders to when it means "no" (compared stripped and case-insensitively).
_FALSE = frozenset({"", "false", "0", "no", "none", "null"})

# One environment for the process: it holds no state that a template could change.
_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


class ConditionError(InvalidInputError):
    """The template does not compile or fails to render (unknown name, type error, ...)."""

    code = "condition_invalid"


@functools.lru_cache(maxsize=256)
def _compile(source: str) -> Template:
    # Every execution of a run evaluates the same few conditions.
    return _ENV.from_string(source)


def condition_holds(source: str | None, context: Mapping[str, Any]) -> bool:
    """True when there is no condition or it renders to something other than a "no"."""
    if source is None:
        return True
    try:
        text = _compile(source).render(context)
    # The template is user code: whatever it raises (TemplateError, TypeError,
    # ZeroDivisionError, ...) means the condition is invalid, not that the worker broke.
    except Exception as exc:
        raise ConditionError(f"{type(exc).__name__}: {exc}") from None
    return text.strip().lower() not in _FALSE
