"""`shoal db upgrade|current`."""

from __future__ import annotations

from contextlib import ExitStack

import typer

from shoal.cli.local.settings import load_admin_settings, load_settings
from shoal.cli.output import Output, OutputOpt, console, print_json

__all__ = ["db_app"]

db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade_cmd() -> None:
    """Migrate the database schema to the newest version (safe to run concurrently).

    Runs as SHOAL_MIGRATION_DATABASE_URL's role (the schema owner) when set, and grants the
    role of SHOAL_DATABASE_URL what the application needs."""
    from shoal.runtime.context import database_urls, run_migrations
    from shoal.store import Database
    from shoal.store.migrate import current_revision

    settings = load_settings(quiet=True)
    with ExitStack() as stack:
        urls = database_urls(settings, stack)
        db = Database(urls.owner, pool_size=1)
        stack.callback(db.dispose)
        before = current_revision(db)
        run_migrations(urls)
        after = current_revision(db)
    if before == after:
        console.print(f"schema already at {after}")
    else:
        console.print(f"schema upgraded from {before or 'empty'} to {after}")


@db_app.command("current")
def current_cmd(output: OutputOpt = Output.TABLE) -> None:
    """Print the schema version of the database and of this Shoal build (`-o json`:
    `{"database", "code"}`, database null when the schema is empty)."""
    from shoal.runtime.context import database_url
    from shoal.store import Database
    from shoal.store.migrate import current_revision, head_revision

    settings = load_admin_settings()
    with ExitStack() as stack:
        db = Database(database_url(settings, stack), pool_size=1)
        stack.callback(db.dispose)
        revision = current_revision(db)
    if output is Output.JSON:
        print_json({"database": revision, "code": head_revision()})
        return
    console.print(f"database: {revision or 'empty'}  code: {head_revision()}")
