"""GitHub's published GraphQL schema, loaded once per process.

The schema comes from the ``@octokit/graphql-schema`` npm package (``schema.json``, GitHub's
introspection result). Its SDL twin does not build with graphql-core (a duplicated field
in ``EnterpriseOwnerInfo``), so the introspection JSON is the source. Building it takes
about half a second and the file is ~5 MB: it is cached for the life of the process, per
path.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from graphql import GraphQLSchema, build_client_schema

ENV_VAR = "SHOAL_SIM_GRAPHQL_SCHEMA"
PACKAGE = "@octokit/graphql-schema"
PACKAGE_VERSION = "15.26.1"
# packages/shoal-sim/src/shoal_sim/graphql/schema.py -> the checkout's root, whose .cache/
# scripts/bootstrap.sh fills; an installed package has no such directory.
_CHECKOUT_ROOT = Path(__file__).resolve().parents[5]
CHECKOUT_PATH = _CHECKOUT_ROOT / ".cache/octokit/node_modules" / PACKAGE / "schema.json"

_lock = threading.Lock()
_cache: dict[Path, GraphQLSchema] = {}


class SchemaUnavailableError(RuntimeError):
    """GitHub's schema file is missing or unreadable; the message says how to install it."""


def configured_path() -> Path | None:
    """The file the environment names, if any: it is used as is, never fetched."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        return Path(configured)
    # The same override scripts/fetch-github-schemas.sh honours for where it installs.
    octokit_dir = os.environ.get("SHOAL_OCTOKIT_DIR")
    if octokit_dir:
        return Path(octokit_dir) / "node_modules" / PACKAGE / "schema.json"
    return None


def user_cache_path() -> Path:
    """Where an installed simulator keeps the schema it fetched (XDG cache directory)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "shoal-sim" / f"graphql-schema-{PACKAGE_VERSION}" / "schema.json"


def schema_path() -> Path:
    """The configured file; else the checkout's (scripts/bootstrap.sh) when present; else the
    user cache, which ``shoal-sim serve`` fills on first use."""
    configured = configured_path()
    if configured is not None:
        return configured
    if CHECKOUT_PATH.is_file():
        return CHECKOUT_PATH
    return user_cache_path()


def install_hint(path: Path) -> str:
    return (
        f"The GitHub simulator cannot serve GraphQL: GitHub's schema was not found at "
        f"{path}. `shoal-sim serve` fetches it on first use; in a checkout of Shoal, "
        f"`bash scripts/fetch-github-schemas.sh graphql` installs it (or `npm install "
        f"--prefix .cache/octokit {PACKAGE}@{PACKAGE_VERSION}`); or point {ENV_VAR} at a "
        f"schema.json file."
    )


def load_schema(path: Path | None = None) -> GraphQLSchema:
    """GitHub's schema from ``path`` (default: :func:`schema_path`), built once."""
    where = path or schema_path()
    with _lock:
        cached = _cache.get(where)
        if cached is not None:
            return cached
        try:
            raw = json.loads(where.read_bytes())
        except (OSError, ValueError) as exc:
            raise SchemaUnavailableError(install_hint(where)) from exc
        introspection = raw.get("data", raw) if isinstance(raw, dict) else None
        try:
            schema = build_client_schema(introspection)  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise SchemaUnavailableError(install_hint(where)) from exc
        _cache[where] = schema
        return schema
