"""Usage errors under `-o json`: a command line that does not parse (an unknown option, a
missing argument, a value out of range) fails before any command runs, so before `-o` is
read; the root group looks for `-o json` in the arguments itself and then reports the
error as the API's error body on stderr, with click's exit status (2)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import typer

# typer carries its own copy of click: its exceptions are these, not the click package's.
from typer._click.exceptions import ClickException, UsageError
from typer.core import TyperGroup

__all__ = ["JsonUsageErrors", "asks_for_json"]


def asks_for_json(args: Sequence[str]) -> bool:
    """Whether the command line asks for `-o json` (in any of its spellings)."""
    words = list(args)
    if "--" in words:
        words = words[: words.index("--")]
    for index, word in enumerate(words):
        if word in ("-o", "--output") and words[index + 1 : index + 2] == ["json"]:
            return True
        if word in ("-ojson", "--output=json"):
            return True
    return False


def _json_error(exc: ClickException) -> NoReturn:
    details: dict[str, Any] = {}
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, UsageError):
        code = "usage_error"
        if ctx is not None:
            details["usage"] = ctx.get_usage()
            details["hint"] = f"run `{ctx.command_path} --help`"
    else:
        code = "cli_error"
    error = {"code": code, "message": exc.format_message(), "details": details}
    sys.stderr.write(json.dumps({"error": error}, indent=2, sort_keys=True) + "\n")
    sys.exit(exc.exit_code)


class JsonUsageErrors(TyperGroup):
    """The root command group: as typer's, but usage errors come as JSON under `-o json`."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        if not (standalone_mode and asks_for_json(argv)):
            return super().main(
                args, prog_name, complete_var, standalone_mode, windows_expand_args, **extra
            )
        try:
            # Not standalone: click raises its errors here instead of printing them.
            done = super().main(argv, prog_name, complete_var, False, windows_expand_args, **extra)
        except ClickException as exc:
            _json_error(exc)
        except typer.Abort:
            sys.stderr.write(
                json.dumps({"error": {"code": "aborted", "message": "aborted", "details": {}}})
                + "\n"
            )
            sys.exit(1)
        # Not standalone, an exit status comes back as the result (commands return None).
        sys.exit(done if isinstance(done, int) else 0)
