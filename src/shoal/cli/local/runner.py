"""`shoal runner run`: run one Execution's steps and write its result. Every executor runs this.

The request JSON holds secret values, so it is read from stdin or from a file only its owner
can read, never from argv. Exit status 0 means the Execution ran, whatever its outcome (a
failed step is a result, in result.json); non-zero means the runner itself could not run:
2 for unusable input, 3 when the sandbox is unavailable on this machine, 1 otherwise.
"""

from __future__ import annotations

import enum
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shoal.cli.output import err_console, fail
from shoal.domain.errors import InvalidInputError, ShoalError

if TYPE_CHECKING:
    from shoal.executors.sandbox import StepSandbox

__all__ = ["SandboxKind", "runner_app"]

runner_app = typer.Typer(no_args_is_help=True)

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_NO_SANDBOX = 3


class SandboxKind(enum.StrEnum):
    BWRAP = "bwrap"
    PROCESS = "process"


@runner_app.callback()
def runner() -> None:
    """Run an Execution's steps in a sandbox (the program inside every executor)."""
    # A callback keeps `run` a sub-command even while it is the only one.


@runner_app.command("run")
def run(
    request: Annotated[
        str,
        typer.Option(
            "--request",
            help="ExecutionRequest JSON: a file only you can read (0600), or - for stdin.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Directory for result.json, log and patch.")],
    workspace_tarball: Annotated[
        Path | None,
        typer.Option(
            "--workspace-tarball", help="GitHub tarball of the base commit (none: empty repo)."
        ),
    ] = None,
    sandbox: Annotated[
        SandboxKind,
        typer.Option(
            "--sandbox",
            help="bwrap (default: uid 65534 in bubblewrap), or process (in a pod only).",
        ),
    ] = SandboxKind.BWRAP,
    work_root: Annotated[
        Path | None,
        typer.Option("--work-root", help="Where the workspace is made (default: the temp dir)."),
    ] = None,
) -> None:
    """Run the steps of one Execution and write result.json (+ log and patch) to --out."""
    from shoal.execution.runner import ExecutionRequest
    from shoal.executors import SandboxUnavailableError
    from shoal.executors.local import LocalExecutor

    try:
        parsed = ExecutionRequest.from_json(_read_request(request))
        if workspace_tarball is not None and not workspace_tarball.is_file():
            raise InvalidInputError(f"workspace tarball {workspace_tarball} is not a file")
        out.mkdir(parents=True, exist_ok=True)
    except (ShoalError, OSError) as exc:
        fail(_message(exc), code=EXIT_BAD_INPUT)
    try:
        executor = LocalExecutor(
            _sandbox(sandbox),
            work_root=work_root or Path(tempfile.gettempdir()),
            parallelism=1,
        )
        result = executor.execute(parsed, workspace_tarball, out)
        (out / "result.json").write_text(result.to_json())
    except SandboxUnavailableError as exc:
        fail(exc.message, code=EXIT_NO_SANDBOX)
    except (ShoalError, OSError) as exc:
        fail(_message(exc), code=EXIT_FAILED)
    err_console.print(f"{result.state.value}: {result.message}", highlight=False, markup=False)


def _read_request(source: str) -> bytes:
    if source == "-":
        return sys.stdin.buffer.read()
    # O_NOFOLLOW and fstat on the opened file: the mode checked is the one of what is read.
    fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as file:
        mode = os.fstat(file.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise InvalidInputError(f"request {source} is not a regular file")
        if mode & 0o077:
            raise InvalidInputError(
                f"request {source} holds secrets but others can access it "
                f"(mode {stat.S_IMODE(mode):04o}): chmod 600 it, or pass it on stdin"
            )
        return file.read()


def _sandbox(kind: SandboxKind) -> StepSandbox:
    from shoal.executors import BwrapSandbox, ProcessSandbox

    if kind is SandboxKind.PROCESS:
        return ProcessSandbox()
    return BwrapSandbox()


def _message(exc: ShoalError | OSError) -> str:
    if isinstance(exc, ShoalError):
        return exc.message
    return f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc)
