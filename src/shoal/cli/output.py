"""Printing results: rich tables for people, `-o json` for scripts.

Everything printed for people goes through `console` or `err_console`, which show control
and invisible characters escaped (`\x1b`, `\u202e`; see `shoal.domain.printable`): the text
comes from the server, which got it from steps, repositories and other API clients, and a
terminal must not obey what it holds. `-o json` is escaped by `json.dumps` itself.
"""

from __future__ import annotations

import enum
import json
import shlex
import sys
from collections.abc import Collection, Sequence
from typing import Annotated, Any, NoReturn

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from shoal.domain.printable import escape_text

__all__ = [
    "FREE_TEXT_COLUMNS",
    "Output",
    "OutputOpt",
    "SafeConsole",
    "command_line",
    "console",
    "err_console",
    "fail",
    "output_is_json",
    "print_json",
    "print_page_note",
    "print_table",
    "reset_output_mode",
]


class SafeConsole(Console):
    """A console that escapes control characters in every string it renders (printed
    strings, table cells, markup alike) before rich parses or styles it."""

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(escape_text(text), **kwargs)


console = SafeConsole(soft_wrap=True)
err_console = SafeConsole(stderr=True, soft_wrap=True)


class Output(enum.StrEnum):
    TABLE = "table"
    JSON = "json"


class _Mode:
    """Whether the running command was asked for `-o json`: its errors are then JSON too."""

    json_errors = False


def output_is_json() -> bool:
    return _Mode.json_errors


def reset_output_mode() -> None:
    """Forget the previous command's `-o` (several commands may run in one process)."""
    _Mode.json_errors = False


def _remember_output(value: Output) -> Output:
    _Mode.json_errors = value is Output.JSON
    return value


OutputOpt = Annotated[
    Output,
    typer.Option(
        "--output",
        "-o",
        help="Output format: table or json (errors then come as JSON on stderr too).",
        callback=_remember_output,
    ),
]


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


# Columns of prose: they wrap to fit the terminal. Every other column holds something a user
# copies into the next command (a name, a repo, an id, a hash, a time), so it is never cut.
FREE_TEXT_COLUMNS = frozenset(
    {"DESCRIPTION", "MESSAGE", "REASON", "LAST ERROR", "ERROR", "FAILURE", "DETAILS", "NOTE"}
)


def print_table(
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    free_text: Collection[str] = FREE_TEXT_COLUMNS,
) -> None:
    """A table whose identifier columns are shown whole, however narrow the terminal: a table
    wider than the terminal wraps in it, but `acme/very-long-name` is never `acme/very-l…`."""
    cells = [["" if cell is None else str(cell) for cell in row] for row in rows]
    table = Table(title=title, show_lines=False, header_style="bold")
    for index, column in enumerate(columns):
        if column in free_text:
            table.add_column(column, overflow="fold")
        else:
            widest = max((cell_len(row[index]) for row in cells), default=0)
            table.add_column(column, overflow="fold", min_width=max(cell_len(column), widest))
    for row in cells:
        table.add_row(*row)
    console.print(table)


def fail(
    message: str,
    *,
    code: int = 1,
    hint: str | None = None,
    error_code: str = "cli_error",
    details: dict[str, Any] | None = None,
) -> NoReturn:
    """End the command with exit status `code`: a message (and hint) for people on stderr, or
    under `-o json` the API's error body, `{"error": {"code", "message", "details"}}`, there.

    `error_code` and `details` are the API's when the server refused; otherwise the code names
    the client's failure and `details` holds the hint, if any."""
    if _Mode.json_errors:
        body = dict(details or {})
        if hint:
            body.setdefault("hint", hint)
        error = {"code": error_code, "message": message, "details": body}
        sys.stderr.write(json.dumps({"error": error}, indent=2, sort_keys=True) + "\n")
        raise typer.Exit(code)
    # The message often quotes the server: it is text, never markup.
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    if hint:
        err_console.print(f"[dim]hint:[/] {escape(hint)}", highlight=False)
    raise typer.Exit(code)


def print_page_note(
    *, shown: int, total: int | None, next_command: str | None, output: Output
) -> None:
    """Say that a list is cut and how to get the rest; silent when nothing is left out.

    On stdout under a table (it is part of the report); on stderr with `-o json`, so that the
    JSON on stdout stays one parseable document.
    """
    if next_command is None:
        return
    counted = f"showing {shown} of {total}" if total is not None else f"showing {shown}, more match"
    target = console if output is Output.TABLE else err_console
    target.print(f"{counted}; next: {next_command}", markup=False, highlight=False)


def command_line(*words: str, **options: Any) -> str:
    """A `shoal ...` command to print for the user to run: options with None or False are left
    out, lists repeat their option, everything is shell-quoted."""
    parts = ["shoal", *words]
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            parts.append(flag)
        elif isinstance(value, list | tuple):
            for item in value:
                parts += [flag, str(item)]
        else:
            parts += [flag, str(value)]
    return shlex.join(parts)
