"""`shoal runner run|fetch|upload`: run one Execution's steps and write its result, and move
the workspace and the results through the API's artifact proxy.

The request JSON holds secret values, so it is read from stdin or from a file only its owner
can read, never from argv. Exit status 0 means the Execution ran, whatever its outcome (a
failed step is a result, in result.json); non-zero means the runner itself could not run:
2 for unusable input, 3 when the sandbox is unavailable on this machine, 4 when the artifact
proxy refused or could not be reached, 1 otherwise.

Pod mode (`--artifact-url`): the runner holds only its execution token, read from
`--token-file` or `SHOAL_EXECUTION_TOKEN` (never argv), and talks only to the API: it needs
no settings, no database, no object-storage and no GitHub credentials. `fetch` writes the
workspace tarball (nothing for an empty repository), `upload` sends log, patch and
result.json from a result directory, `run --artifact-url` does fetch, run and upload.
"""

from __future__ import annotations

import enum
import os
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from shoal.cli.output import err_console, fail
from shoal.domain.errors import InvalidInputError, ShoalError

if TYPE_CHECKING:
    from shoal.executors.proxy_client import ProxyClient
    from shoal.executors.sandbox import StepSandbox

T = TypeVar("T")
RESULT_NAME = "result.json"

ArtifactUrl = Annotated[
    str | None,
    typer.Option(
        "--artifact-url",
        help="The execution's URL on the Shoal API (.../api/v1/executions/ID): fetch the "
        "workspace and upload the results there, with the execution token.",
    ),
]
TokenFile = Annotated[
    Path | None,
    typer.Option(
        "--token-file",
        help="File holding the execution token (default: the SHOAL_EXECUTION_TOKEN variable).",
    ),
]

__all__ = ["SandboxKind", "runner_app"]

runner_app = typer.Typer(no_args_is_help=True)

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_NO_SANDBOX = 3
EXIT_PROXY = 4
TOKEN_ENV = "SHOAL_EXECUTION_TOKEN"  # noqa: S105 - the variable's name, not a token
DEFAULT_MAX_WORKSPACE_BYTES = 512 << 20


class SandboxKind(enum.StrEnum):
    BWRAP = "bwrap"
    PROCESS = "process"


@runner_app.callback()
def runner() -> None:
    """Run an Execution's steps in a sandbox (the program inside every executor)."""


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
    artifact_url: ArtifactUrl = None,
    token_file: TokenFile = None,
) -> None:
    """Run the steps of one Execution and write result.json (+ log and patch) to --out.

    With --artifact-url: fetch the workspace from the API first (not --workspace-tarball)
    and upload the results to it afterwards."""
    from shoal.execution.runner import ExecutionRequest
    from shoal.executors import SandboxUnavailableError
    from shoal.executors.local import LocalExecutor

    proxy = None
    try:
        parsed = ExecutionRequest.from_json(_read_request(request))
        if artifact_url is not None:
            if workspace_tarball is not None:
                raise InvalidInputError("give --workspace-tarball or --artifact-url, not both")
            proxy = _proxy(artifact_url, token_file)
        if workspace_tarball is not None and not workspace_tarball.is_file():
            raise InvalidInputError(f"workspace tarball {workspace_tarball} is not a file")
        out.mkdir(parents=True, exist_ok=True)
    except (ShoalError, OSError) as exc:
        fail(_message(exc), code=EXIT_BAD_INPUT)
    root = work_root or Path(tempfile.gettempdir())
    with tempfile.TemporaryDirectory(prefix="shoal-fetch-", dir=root) as fetched:
        if proxy is not None:
            target = Path(fetched) / "base.tar.gz"
            got = _proxied(lambda: proxy.fetch_workspace(target, DEFAULT_MAX_WORKSPACE_BYTES))
            workspace_tarball = target if got else None
        try:
            executor = LocalExecutor(_sandbox(sandbox), work_root=root, parallelism=1)
            result = executor.execute(parsed, workspace_tarball, out)
            (out / RESULT_NAME).write_text(result.to_json())
        except SandboxUnavailableError as exc:
            fail(exc.message, code=EXIT_NO_SANDBOX)
        except (ShoalError, OSError) as exc:
            fail(_message(exc), code=EXIT_FAILED)
    if proxy is not None:
        _proxied(lambda: proxy.upload_results(out))
    err_console.print(f"{result.state.value}: {result.message}", highlight=False, markup=False)


@runner_app.command("fetch")
def fetch(
    artifact_url: Annotated[
        str, typer.Option("--artifact-url", help="The execution's URL on the Shoal API.")
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Where to write the workspace tarball (nothing: an empty repository)."
        ),
    ],
    token_file: TokenFile = None,
    max_bytes: Annotated[
        int, typer.Option("--max-bytes", min=1, help="Refuse a larger workspace tarball.")
    ] = DEFAULT_MAX_WORKSPACE_BYTES,
) -> None:
    """Fetch an Execution's workspace tarball through the API with its execution token."""
    try:
        proxy = _proxy(artifact_url, token_file)
    except (ShoalError, OSError) as exc:
        fail(_message(exc), code=EXIT_BAD_INPUT)
    if _proxied(lambda: proxy.fetch_workspace(out, max_bytes)):
        err_console.print(f"workspace: {out}", highlight=False, markup=False)
    else:
        err_console.print("workspace: none (an empty repository)", highlight=False, markup=False)


@runner_app.command("upload")
def upload(
    artifact_url: Annotated[
        str, typer.Option("--artifact-url", help="The execution's URL on the Shoal API.")
    ],
    results: Annotated[
        Path,
        typer.Option("--results", help="The directory `shoal runner run --out` wrote."),
    ],
    token_file: TokenFile = None,
) -> None:
    """Upload an Execution's log, patch and result.json through the API (result.json last)."""
    try:
        proxy = _proxy(artifact_url, token_file)
    except (ShoalError, OSError) as exc:
        fail(_message(exc), code=EXIT_BAD_INPUT)
    _proxied(lambda: proxy.upload_results(results))
    err_console.print("results uploaded", highlight=False, markup=False)


def _proxy(url: str, token_file: Path | None) -> ProxyClient:
    from shoal.executors.proxy_client import ProxyClient

    if token_file is not None:
        token = token_file.read_text().strip()
    else:
        token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise InvalidInputError(
            f"no execution token: set {TOKEN_ENV} or pass --token-file (never on the command line)"
        )
    return ProxyClient(url, token)


def _proxied(call: Callable[[], T]) -> T:
    try:
        return call()
    except (ShoalError, OSError) as exc:
        fail(_message(exc), code=EXIT_PROXY)


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


@runner_app.command("pod-fetch")
def pod_fetch(
    artifact_url: Annotated[
        str, typer.Option("--artifact-url", help="The execution's URL on the Shoal API.")
    ],
    secret_dir: Annotated[Path, typer.Option("--secret-dir", help="token and request.json.")],
    work: Annotated[Path, typer.Option("--work", help="The workspace volume.")],
    state: Annotated[Path, typer.Option("--state", help="The steps' records volume.")],
) -> None:
    """In a runner pod (kubernetes executor): fetch the workspace, write the steps' scripts."""
    from shoal.executors.kubernetes.pod import pod_fetch as fetch_into_pod

    try:
        fetch_into_pod(artifact_url, secret_dir, work, state)
    except (ShoalError, OSError) as exc:
        fail(_message(exc), code=EXIT_FAILED)
    err_console.print("workspace ready", highlight=False, markup=False)


@runner_app.command("pod-upload")
def pod_upload(
    artifact_url: Annotated[
        str, typer.Option("--artifact-url", help="The execution's URL on the Shoal API.")
    ],
    secret_dir: Annotated[Path, typer.Option("--secret-dir", help="token and request.json.")],
    work: Annotated[Path, typer.Option("--work", help="The workspace volume.")],
    state: Annotated[Path, typer.Option("--state", help="The steps' records volume.")],
) -> None:
    """In a runner pod (kubernetes executor): read the steps' records, diff, upload."""
    from shoal.executors.kubernetes.pod import pod_upload as upload_from_pod

    try:
        result = upload_from_pod(artifact_url, secret_dir, work, state)
    except (ShoalError, OSError) as exc:
        fail(_message(exc), code=EXIT_FAILED)
    err_console.print(f"{result.state.value}: {result.message}", highlight=False, markup=False)
