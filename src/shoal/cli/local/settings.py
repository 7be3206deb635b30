"""Loading settings for local commands, with errors a person can act on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shoal.cli.output import err_console, fail

if TYPE_CHECKING:
    from shoal.config import Settings

__all__ = ["load_admin_settings", "load_settings"]


def load_settings(*, quiet: bool = False) -> Settings:
    """Settings from the environment; `quiet` keeps a one-shot command's output to warnings
    unless SHOAL_LOG_LEVEL asks for more."""
    # Imported here, not at the top: the remote commands never load the server's settings.
    from pydantic import ValidationError

    from shoal.config import Settings
    from shoal.observability.logs import configure_logging

    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "\n".join(
            f"  - SHOAL_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        fail(f"invalid configuration:\n{problems}", hint="see docs/settings.md")
    level = settings.log_level
    if quiet and "log_level" not in settings.model_fields_set:
        level = "warning"
    configure_logging(level, settings.log_format)
    return settings


def load_admin_settings() -> Settings:
    """Settings for a command that opens the database on this machine (`shoal admin`).

    With an embedded database, the command uses the data dir that holds one: the configured
    one, or the running `shoal up` instance's when none is configured. It never starts a new,
    empty database: that would mint tokens no running server knows.
    """
    settings = load_settings(quiet=True)
    if settings.database_url is not None:
        return settings
    from shoal.runtime.instances import NoDatabaseError, resolve_data_dir

    try:
        choice = resolve_data_dir(settings)
    except NoDatabaseError as exc:
        fail(str(exc))
    if choice.instance is not None:
        err_console.print(
            f"using the data dir of the running `shoal up` (pid {choice.instance.pid}, "
            f"{choice.instance.api_url}): {choice.data_dir}",
            highlight=False,
        )
        return settings.model_copy(update={"data_dir": choice.data_dir})
    return settings
