"""The `shoal` command: one Typer app with a sub-command per area."""

from __future__ import annotations

import enum
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from shoal.cli.local import admin, db, processes
from shoal.cli.local.runner import runner_app
from shoal.cli.output import err_console, fail, reset_output_mode
from shoal.cli.remote import (
    audit,
    budgets,
    campaigns,
    installations,
    login,
    publishing,
    runs,
    secrets,
    specs,
    sync,
    tasks,
    tokens,
)
from shoal.cli.remote import bulk as bulk_cli
from shoal.cli.remote import report as report_cli
from shoal.cli.usage import JsonUsageErrors
from shoal.domain.errors import ShoalError

__all__ = ["app", "main"]


class CompletionShell(enum.StrEnum):
    BASH = "bash"
    ZSH = "zsh"
    FISH = "fish"
    POWERSHELL = "powershell"


def examples(*lines: str) -> str:
    """A command's help epilog: one example command a line (rich help joins lines that are
    not separated by a blank one)."""
    return "Examples:\n\n" + "\n\n".join(f"  {line}" for line in lines)


EXAMPLES = examples(
    "shoal login --url http://127.0.0.1:8420",
    "shoal apply campaign.yaml",
    "shoal preview bump-checkout-v4",
    "shoal diff bump-checkout-v4 acme/api -o json",
    "shoal publish bump-checkout-v4",
    "shoal status bump-checkout-v4 -o json",
)

app = typer.Typer(
    name="shoal",
    epilog=EXAMPLES,
    help="Declarative bulk pull-request campaigns across GitHub organizations.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    cls=JsonUsageErrors,
)


def _print_version(value: bool) -> None:
    if not value:
        return
    try:
        installed = version("shoal")
    except PackageNotFoundError:  # run from a source tree that was never installed
        installed = "unknown"
    typer.echo(f"shoal {installed}")
    raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the installed shoal version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Declarative bulk pull-request campaigns across GitHub organizations."""
    reset_output_mode()


app.command()(login.login)
app.command()(campaigns.validate)
app.command(
    epilog=examples(
        "shoal apply campaign.yaml",
        "shoal apply campaign.yaml --yes -o json",
    )
)(campaigns.apply)
app.command(
    epilog=examples(
        "shoal preview campaign.yaml",
        "shoal preview bump-checkout-v4 --no-wait -o json",
    )
)(runs.preview)
app.command(
    epilog=examples(
        "shoal diff bump-checkout-v4 acme/api",
        "shoal diff bump-checkout-v4 acme/api --run 3 -o json",
        "shoal diff bump-checkout-v4 acme/api --raw > change.patch",
    )
)(runs.diff)
app.command(
    epilog=examples(
        "shoal publish bump-checkout-v4 --org acme --draft",
        "shoal publish bump-checkout-v4 --path .github/workflows/ci.yml --no-wait",
        "shoal publish bump-checkout-v4 --repos acme/api --repos acme/web --run 7 --dry-run",
    )
)(publishing.publish)
app.command(
    epilog=examples("shoal status bump-checkout-v4", "shoal status bump-checkout-v4 --burndown")
)(publishing.status)
app.command(
    epilog=examples(
        "shoal changesets bump-checkout-v4 --state failed",
        "shoal changesets bump-checkout-v4 --stuck --reason failing_checks -o json",
    )
)(publishing.changesets)
app.command(
    epilog=examples(
        "shoal report bump-checkout-v4 -o csv > report.csv",
        "shoal report bump-checkout-v4 -o json --stuck any --org acme",
    )
)(report_cli.report)
app.command()(publishing.kill)
app.command()(publishing.unkill)
app.command()(publishing.pause)
app.command()(publishing.resume)
app.command(epilog=examples("shoal controls", "shoal controls -o json"))(publishing.controls)
app.command(epilog=examples("shoal installations", "shoal installations -o json"))(
    installations.installations
)
app.command()(sync.sync)
app.add_typer(campaigns.campaigns_app, name="campaigns")
app.add_typer(runs.runs_app, name="runs")
app.add_typer(specs.spec_app, name="spec")
# The older name of `spec`: same commands, left out of the help.
app.add_typer(specs.specs_app, name="specs", hidden=True)
app.add_typer(budgets.budgets_app, name="budgets")
app.add_typer(secrets.secrets_app, name="secrets")
app.add_typer(tokens.tokens_app, name="tokens")
app.add_typer(audit.audit_app, name="audit")
app.add_typer(tasks.tasks_app, name="tasks")
app.add_typer(bulk_cli.bulk_app, name="bulk")
app.command()(processes.up)
app.command()(processes.api)
app.command()(processes.worker)
app.add_typer(db.db_app, name="db")
app.add_typer(admin.admin_app, name="admin")
app.add_typer(runner_app, name="runner")


@app.command(
    "sim",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def sim(ctx: typer.Context) -> None:
    """The GitHub simulator (`shoal sim serve --help`), from the shoal-sim package."""
    # Imported on use: the simulator is a separate distribution (packages/shoal-sim) and the
    # other commands start faster without loading it.
    try:
        from shoal_sim.cli import sim_app
    except ModuleNotFoundError as exc:
        if exc.name != "shoal_sim":
            raise
        fail("the GitHub simulator is not installed: install shoal[sim] (or shoal-sim)")

    sim_app(ctx.args, prog_name="shoal sim")


@app.command("completion")
def completion(
    shell: Annotated[CompletionShell, typer.Argument(help="The shell to complete in.")],
) -> None:
    """Print the shell completion script (`--install-completion` installs it for the shell
    it detects; this prints it for any shell, without asking which one runs)."""
    from typer._completion_shared import get_completion_script

    # typer keeps the script templates in a private module; `--show-completion` uses the same.
    typer.echo(
        get_completion_script(prog_name="shoal", complete_var="_SHOAL_COMPLETE", shell=shell.value)
    )


def main() -> None:
    try:
        # The name is fixed so `python -m shoal` completes and prints usage as `shoal` does.
        app(prog_name="shoal")
    except ShoalError as exc:
        # Outside the app, typer no longer turns its Exit into an exit status: do it here.
        try:
            fail(exc.message)
        except typer.Exit as done:
            raise SystemExit(done.exit_code) from None
    except KeyboardInterrupt:
        # Commands that follow server-side work say what goes on after Ctrl-C themselves;
        # anywhere else an interrupt is a plain stop, not a traceback.
        err_console.print("interrupted")
        raise SystemExit(130) from None
