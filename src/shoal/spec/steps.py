"""The steps a campaign runs in each repository's workspace to produce its change."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from shoal.spec.base import SpecModel, errors_at, spec_error
from shoal.spec.fields import (
    DEFAULT_STEP_TIMEOUT,
    EnvName,
    EnvValue,
    Script,
    SortedUnique,
    StepName,
    StepTimeout,
    TemplateExpression,
)

__all__ = ["Step"]


class Step(SpecModel):
    """One shell script, run in the repository checkout; steps run in order."""

    name: StepName = Field(description="Step name, unique within the spec; shown in logs.")
    # Not supported yet: no executor runs a step in a container image, so a spec that sets
    # one is refused rather than run with the worker's tools. The field stays (always null,
    # absent from the JSON Schema) so that the canonical JSON, and the hash of every spec
    # without it, stay as they were.
    image: SkipJsonSchema[object | None] = None
    run: Script = Field(
        description="POSIX shell script, run with the repository checkout as working directory."
    )
    env: dict[EnvName, EnvValue] = Field(
        default_factory=dict,
        description="Environment variables for the script. Values must be strings (quote "
        "numbers); names starting with SHOAL_ are reserved.",
    )
    secrets: Annotated[list[EnvName], SortedUnique] = Field(
        default_factory=list,
        description="Names of secrets to inject as environment variables at run time; their "
        "values are redacted from every log. Order does not matter.",
    )
    timeout: StepTimeout = Field(
        default=DEFAULT_STEP_TIMEOUT,
        description="How long the step may run, like '30s', '5m' or '1h30m' (or a number of "
        "seconds). Default 10m, at most 2h.",
    )
    if_: TemplateExpression | None = Field(
        default=None,
        alias="if",
        description="Template expression; the step is skipped when it renders false, e.g. "
        "\"{{ repo.language == 'Python' }}\".",
    )

    @field_validator("image", mode="before")
    @classmethod
    def _image_not_supported(cls, value: object) -> None:
        if value is not None:
            raise spec_error(
                "not supported yet: steps run in the worker's sandbox with the tools installed "
                "on the worker, not in a container image; remove 'image' and install what the "
                "step needs on the workers (or fetch it in the script)"
            )

    @model_validator(mode="after")
    def _secret_not_in_env(self) -> Step:
        # Pointed at env, not secrets: secrets are sorted by now, so indexes would mislead.
        clashes = [
            (("env", name), f"{name!r} is also listed in secrets; set it in one place only", name)
            for name in self.secrets
            if name in self.env
        ]
        if clashes:
            raise errors_at(clashes)
        return self
