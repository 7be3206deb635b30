"""The pydantic base all spec models share, and how they raise errors the loader can place.

Models raise `spec_error(...)` with the final wording; `issues.py` rewords pydantic's own
errors (missing field, wrong type, ...). Validators that need to point below their own
location (a duplicate step name at `steps[3].name`) raise `errors_at(...)`, which pydantic
nests under the validator's location.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    ModelWrapValidatorHandler,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

__all__ = ["SPEC_ERROR", "Loc", "SpecModel", "errors_at", "spec_error", "with_errors"]

SPEC_ERROR = "shoal_spec"

Loc = tuple[str | int, ...]


def spec_error(message: str, *, at_key: bool = False) -> PydanticCustomError:
    """An error whose message is already phrased for spec authors.

    `at_key` places it at the mapping key (an unknown field) rather than at the value.
    """
    return PydanticCustomError(SPEC_ERROR, "{reason}", {"reason": message, "at_key": at_key})


def errors_at(errors: Iterable[tuple[Loc, str, Any]]) -> ValidationError:
    """A ValidationError with one spec error per (relative location, message, input)."""
    details = [
        InitErrorDetails(type=spec_error(message), loc=loc, input=value)
        for loc, message, value in errors
    ]
    return ValidationError.from_exception_data("CampaignSpec", details)


def with_errors(
    exc: ValidationError, extra: Sequence[tuple[Loc, str, Any]] = ()
) -> ValidationError:
    """`exc`'s errors plus `extra`, so a validator can add findings without hiding others."""
    details = [_init_details(error) for error in exc.errors()]
    details.extend(
        InitErrorDetails(type=spec_error(message), loc=loc, input=value)
        for loc, message, value in extra
    )
    return ValidationError.from_exception_data(exc.title, details)


def _init_details(error: ErrorDetails) -> InitErrorDetails:
    ctx = error.get("ctx")
    if error["type"] == SPEC_ERROR:
        return InitErrorDetails(
            type=PydanticCustomError(SPEC_ERROR, "{reason}", ctx),
            loc=error["loc"],
            input=error["input"],
        )
    details = InitErrorDetails(type=error["type"], loc=error["loc"], input=error["input"])
    if ctx is not None:
        details["ctx"] = ctx
    return details


class SpecModel(BaseModel):
    """Frozen, strict (YAML `"5"` is not a number) and closed to unknown fields."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    @model_validator(mode="wrap")
    @classmethod
    def _explain_unknown_fields(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        # Only the model knows its field names, so the "did you mean" hint is made here.
        try:
            return handler(data)
        except ValidationError as exc:
            errors = exc.errors()
            if not any(_is_own_unknown_field(error) for error in errors):
                raise
            details = [
                _unknown_field(cls, error) if _is_own_unknown_field(error) else _init_details(error)
                for error in errors
            ]
            raise ValidationError.from_exception_data(exc.title, details) from None

    @classmethod
    def input_names(cls) -> list[str]:
        """The keys a spec may use for this model, in declaration order."""
        return [field.alias or name for name, field in cls.model_fields.items()]


def _is_own_unknown_field(error: ErrorDetails) -> bool:
    return error["type"] == "extra_forbidden" and len(error["loc"]) == 1


def _unknown_field(model: type[SpecModel], error: ErrorDetails) -> InitErrorDetails:
    allowed = model.input_names()
    key = str(error["loc"][0])
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        message = f"unknown field; did you mean '{close[0]}'?"
    else:
        message = f"unknown field; expected one of: {', '.join(allowed)}"
    return InitErrorDetails(
        type=spec_error(message, at_key=True), loc=error["loc"], input=error["input"]
    )
