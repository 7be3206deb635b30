"""Loading settings for local commands, with errors a person can act on."""

from __future__ import annotations

from pydantic import ValidationError

from shoal.cli.output import fail
from shoal.config import Settings
from shoal.observability.logs import configure_logging

__all__ = ["load_settings"]


def load_settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "\n".join(
            f"  - SHOAL_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        fail(f"invalid configuration:\n{problems}", hint="see docs/settings.md")
    configure_logging(settings.log_level, settings.log_format)
    return settings
