"""``shoal sim``: run the GitHub simulator from the command line.

``serve`` checks GitHub's GraphQL schema is installed (fetching it on first use), seeds the
world, then prints what a client needs (URLs, App id and key path, installation ids, a user
token, the admin API and its token); with ``-o json`` that is one JSON object on the first
line of stdout, and logs go to stderr. A data directory it made itself is removed when it
stops.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import secrets
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, NoReturn

import typer
import uvicorn
import yaml
from pydantic import ValidationError

from shoal_sim.config import Mode, RateLimitConfig, SimConfig
from shoal_sim.graphql import SchemaUnavailableError, load_schema
from shoal_sim.graphql.schema import configured_path, install_hint, schema_path
from shoal_sim.graphql.schema_fetch import SchemaFetchError, fetch_schema
from shoal_sim.seed import SeedDocument, SeedResult, apply_seed, load_seed_file
from shoal_sim.server import create_app
from shoal_sim.simulator import Simulator
from shoal_sim.state.world import ConflictError, NotFoundError

sim_app = typer.Typer(help="The bundled GitHub simulator.", no_args_is_help=True)
log = logging.getLogger("shoal_sim")


def _loopback(host: str) -> str:
    address = socket.gethostbyname(host)
    if not ipaddress.ip_address(address).is_loopback:
        raise typer.BadParameter("the simulator only binds loopback addresses", param_hint="--host")
    return address


def _write_keys(sim: Simulator, result: SeedResult) -> dict[str, str]:
    keys_dir = sim.config.data_dir / "keys"
    keys_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for app in result.apps:
        path = keys_dir / f"{app['slug']}.pem"
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(app["private_key_pem"])
        paths[app["slug"]] = str(path)
    return paths


def connection_info(sim: Simulator, base: str, result: SeedResult) -> dict[str, Any]:
    keys = _write_keys(sim, result)
    apps = [
        {
            "id": a["id"],
            "slug": a["slug"],
            "client_id": a["client_id"],
            "private_key_path": keys[a["slug"]],
            "webhook_secret": a["webhook_secret"],
            "installations": a["installations"],
            "permissions": a["permissions"],
        }
        for a in result.apps
    ]
    first: dict[str, Any] = apps[0] if apps else {}
    token = result.tokens[0] if result.tokens else {}
    ghes = sim.config.ghes
    return {
        "mode": sim.config.mode.value,
        "rest_url": f"{base}/api/v3" if ghes else base,
        "graphql_url": f"{base}/api/graphql" if ghes else f"{base}/graphql",
        "git_url": base,
        "web_url": base,
        "app_id": first.get("id"),
        "client_id": first.get("client_id"),
        "private_key_path": first.get("private_key_path"),
        "webhook_secret": first.get("webhook_secret"),
        "installations": first.get("installations", {}),
        "apps": apps,
        "user": {"login": token.get("user"), "token": token.get("token")},
        "admin_url": f"{base}/_sim",
        "admin_token": sim.config.admin_token,
        "data_dir": str(sim.config.data_dir),
        "repos": result.repos,
        "seed_seconds": round(result.seconds, 3),
    }


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"error: {message}\n")
    raise typer.Exit(1)


def _progress(message: str) -> None:
    sys.stderr.write(f"shoal-sim: {message}\n")
    sys.stderr.flush()


def _require_graphql_schema() -> None:
    """Fetch GitHub's schema on first use (unless a file is configured), and fail before
    announcing any URL without it: every GraphQL query would fail later, far from the cause."""
    path = schema_path()
    if configured_path() is None and not path.exists():
        try:
            fetch_schema(path, progress=_progress)
        except SchemaFetchError as exc:
            _fail(f"{exc}\n{install_hint(path)}")
    try:
        load_schema()
    except SchemaUnavailableError as exc:
        _fail(str(exc))


def _load_seed(path: Path) -> SeedDocument:
    try:
        return load_seed_file(path)
    except OSError as exc:
        _fail(f"cannot read the seed file {path}: {exc.strerror or exc}")
    except yaml.YAMLError as exc:
        _fail(f"the seed file {path} is not valid YAML: {exc}")
    except ValidationError as exc:
        problems = "\n".join(
            f"  {'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        _fail(
            f"the seed file {path} does not match the seed format (docs/simulator.md):\n{problems}"
        )


def _apply_seed(sim: Simulator, document: SeedDocument, path: Path) -> SeedResult:
    try:
        return apply_seed(sim, document)
    except NotFoundError as exc:
        _fail(f"the seed file {path} refers to {exc}, which it does not create")
    except ConflictError as exc:
        _fail(f"the seed file {path} creates something twice: {exc}")


def _stop_on_signal(signum: int, frame: FrameType | None) -> None:
    # Unwinds the stack so the data directory is cleaned up; uvicorn re-raises the signal
    # it caught once it has shut down, which lands here too.
    raise SystemExit(128 + signum)


@contextmanager
def _stopped_by_signals() -> Iterator[None]:
    previous = {sig: signal.signal(sig, _stop_on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def _data_directory(given: Path | None) -> Iterator[Path]:
    """``given`` as is, or a temporary directory removed on the way out (normal exit,
    error, or a signal turned into ``SystemExit``). A directory the user named is kept."""
    if given is not None:
        yield given.resolve()
        return
    made = Path(tempfile.mkdtemp(prefix="shoal-sim-")).resolve()
    try:
        yield made
    finally:
        shutil.rmtree(made, ignore_errors=True)
        if made.exists():
            log.warning("could not remove the simulator's data directory %s", made)


@sim_app.command()
def serve(
    seed: Annotated[Path | None, typer.Option(help="Seed YAML describing the world.")] = None,
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 8787,
    host: Annotated[str, typer.Option(help="Loopback address to bind.")] = "127.0.0.1",
    ghes: Annotated[bool, typer.Option(help="Behave like GitHub Enterprise Server.")] = False,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where git data and keys go (default: a temporary directory, removed "
            "on exit; a directory given here is kept)."
        ),
    ] = None,
    output: Annotated[str, typer.Option("-o", "--output", help="text or json")] = "text",
    admin_token: Annotated[
        str, typer.Option(help="Admin API token (random on every run if empty).")
    ] = "",
    random_seed: Annotated[int, typer.Option("--random-seed", help="Seed for ids.")] = 0,
) -> None:
    """Serve a simulated GitHub on 127.0.0.1 until interrupted."""
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    # httpx logs every request at INFO: one line per webhook delivered. The delivery log
    # (`/app/hook/deliveries`) has them all already.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    address = _loopback(host)
    _require_graphql_schema()
    document = _load_seed(seed) if seed else None
    mode = Mode.GHES if ghes else Mode.DOTCOM
    with _stopped_by_signals(), _data_directory(data_dir) as directory:
        config = SimConfig(
            directory,
            mode=mode,
            seed=random_seed,
            # Not derived from --random-seed: anyone who could guess it could drive /_sim.
            admin_token=admin_token or "simadmin_" + secrets.token_urlsafe(32),
            rate_limits=RateLimitConfig.for_mode(mode),
        )
        sim = Simulator(config)
        if document is not None and document.seed is not None:
            config.seed = document.seed
        result = _apply_seed(sim, document, seed) if document and seed else SeedResult()
        _serve(sim, result, address, port, output)


def _serve(sim: Simulator, result: SeedResult, address: str, port: int, output: str) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, port))
    # Listen before announcing the URL, so a script can connect the moment it reads it.
    sock.listen(2048)
    bound = sock.getsockname()
    info = connection_info(sim, f"http://{bound[0]}:{bound[1]}", result)
    sim.webhooks.serve(f"http://{bound[0]}:{bound[1]}")
    if output == "json":
        sys.stdout.write(json.dumps(info) + "\n")
    else:
        for key, value in info.items():
            shown = json.dumps(value) if isinstance(value, dict | list) else value
            sys.stdout.write(f"{key}: {shown}\n")
    sys.stdout.flush()
    log.info(
        "seeded %d repositories in %.2fs; serving on %s",
        result.repos,
        result.seconds,
        info["web_url"],
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(sim), log_level="warning", lifespan="on", access_log=False, backlog=2048
        )
    )
    try:
        server.run(sockets=[sock])
    finally:
        sim.webhooks.close()
        sock.close()


@sim_app.command()
def version() -> None:
    """Print the simulated GitHub API version."""
    sys.stdout.write("2022-11-28\n")


def main() -> None:
    sim_app()


if __name__ == "__main__":
    main()
