"""The steps a campaign runs in each repository's workspace to produce its change."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from shoal.spec.base import SpecModel, errors_at
from shoal.spec.fields import (
    DEFAULT_STEP_TIMEOUT,
    EnvName,
    EnvValue,
    ImageReference,
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
    image: ImageReference | None = Field(
        default=None,
        description="Container image the step runs in: [registry/]path[:tag][@sha256:<digest>]. "
        "Honoured by the podman and kubernetes executors (kubernetes requires the digest); the "
        "local executor refuses a step that sets it. Omitted: the executor's own tools.",
    )
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
