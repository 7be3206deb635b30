"""A step's `if:`: a Jinja2 template rendered against the execution's context in the spec's
sandbox (`shoal.spec.templating`), with the same size, step and time limits as PR templates:
it runs in the worker before the step, outside the step's own timeout."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shoal.domain.errors import InvalidInputError
from shoal.spec.templating import RenderLimits, TemplateLimitError, render_limited

__all__ = ["ConditionError", "condition_holds"]

# What a template renders to when it means "no" (compared stripped and case-insensitively).
_FALSE = frozenset({"", "false", "0", "no", "none", "null"})

# A condition renders to a word; 16 KiB is room for any string it compares.
_LIMITS = RenderLimits(field="if", max_chars=16 * 1024)


class ConditionError(InvalidInputError):
    """The template does not compile or fails to render (unknown name, type error, ...)."""

    code = "condition_invalid"


def condition_holds(source: str | None, context: Mapping[str, Any]) -> bool:
    """True when there is no condition or it renders to something other than a "no"."""
    if source is None:
        return True
    try:
        text = render_limited(source, context, _LIMITS)
    except TemplateLimitError as exc:
        raise ConditionError(str(exc)) from None
    # The template is user code: whatever it raises (TemplateError, TypeError,
    # ZeroDivisionError, ...) means the condition is invalid, not that the worker broke.
    except Exception as exc:
        raise ConditionError(f"{type(exc).__name__}: {exc}") from None
    return text.strip().lower() not in _FALSE
