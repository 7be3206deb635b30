"""Which `shoal up` instances run on this machine, so local commands find their state.

`shoal up` on embedded defaults keeps its database under its data dir. A local command run
in another shell (`shoal admin create-token`) that was not given the same `SHOAL_DATA_DIR`
would otherwise start a second, empty database and mint a token the running server does not
know. `shoal up` therefore records itself in a per-user registry (one small JSON file per
process under `$XDG_STATE_HOME/shoal/instances/`), and local commands resolve their data dir
against it: see :func:`resolve_data_dir`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shoal.config import Settings

__all__ = [
    "DataDirChoice",
    "Instance",
    "NoDatabaseError",
    "has_embedded_database",
    "registered",
    "resolve_data_dir",
    "running_instances",
]


@dataclass(frozen=True)
class Instance:
    pid: int
    data_dir: Path
    api_url: str


@dataclass(frozen=True)
class DataDirChoice:
    data_dir: Path
    # Set when the data dir was taken from a running instance rather than the settings.
    instance: Instance | None = None


class NoDatabaseError(Exception):
    """A local command found no Shoal database where it looked; the message says where."""


def _registry() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "shoal" / "instances"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


@contextmanager
def registered(data_dir: Path, api_url: str) -> Iterator[Instance]:
    """Record this process as a running instance for as long as the block runs."""
    instance = Instance(pid=os.getpid(), data_dir=data_dir.resolve(), api_url=api_url)
    folder = _registry()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    entry = folder / f"{instance.pid}.json"
    entry.write_text(
        json.dumps({"pid": instance.pid, "data_dir": str(instance.data_dir), "api_url": api_url})
    )
    try:
        yield instance
    finally:
        entry.unlink(missing_ok=True)


def running_instances() -> list[Instance]:
    """Live instances, oldest entry first; entries of dead processes are removed."""
    folder = _registry()
    if not folder.is_dir():
        return []
    found: list[Instance] = []
    for entry in sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime):
        try:
            raw = json.loads(entry.read_text())
            instance = Instance(int(raw["pid"]), Path(raw["data_dir"]), str(raw["api_url"]))
        except (OSError, ValueError, KeyError, TypeError):
            with suppress(OSError):
                entry.unlink()
            continue
        if _alive(instance.pid):
            found.append(instance)
        else:
            with suppress(OSError):
                entry.unlink()
    return found


def has_embedded_database(data_dir: Path) -> bool:
    return (data_dir / "postgres" / "PG_VERSION").is_file()


def resolve_data_dir(settings: Settings) -> DataDirChoice:
    """Where a local command finds the embedded database.

    A data dir the user set (SHOAL_DATA_DIR or the config file) is used as given. Otherwise
    the running `shoal up` instance's is, even when the default data dir holds a database
    too (an earlier instance's): a token minted there would be one the running server does
    not know. With no instance running, the default is used. A command never creates a
    database: with none found, :class:`NoDatabaseError` says which directory was looked at
    and how to point the command at the right one.
    """
    explicit = "data_dir" in settings.model_fields_set
    data_dir = settings.data_dir.resolve()
    with_db = []
    if not explicit:
        with_db = [i for i in running_instances() if has_embedded_database(i.data_dir)]
        if any(i.data_dir == data_dir for i in with_db):
            return DataDirChoice(data_dir)
        if len(with_db) == 1:
            return DataDirChoice(with_db[0].data_dir, instance=with_db[0])
    if not with_db and has_embedded_database(data_dir):
        return DataDirChoice(data_dir)
    source = "SHOAL_DATA_DIR" if explicit else "the default data dir; SHOAL_DATA_DIR is not set"
    message = f"no Shoal database in {data_dir} ({source})."
    if len(with_db) > 1:
        listed = ", ".join(f"{i.data_dir} (pid {i.pid}, {i.api_url})" for i in with_db)
        message += f" Several `shoal up` instances run: {listed}. Set SHOAL_DATA_DIR to one."
    else:
        message += (
            " Start Shoal with `shoal up` first, or set SHOAL_DATA_DIR to the data dir of the "
            "running instance (`shoal up` prints it), or SHOAL_DATABASE_URL for an external "
            "PostgreSQL."
        )
    raise NoDatabaseError(message)


def stop_leftovers(settings: Settings) -> list[str]:
    """Stop the embedded servers a previous, dead instance left running on this data dir.

    A `shoal up` killed with SIGKILL cannot stop its PostgreSQL and Redis; the next start on
    the same data dir does, unless another live instance uses that data dir. Returns what
    was stopped, for the log.
    """
    from shoal.runtime.embedded import EmbeddedRedis, stop_postgres

    data_dir = settings.data_dir.resolve()
    others = [i for i in running_instances() if i.pid != os.getpid() and i.data_dir == data_dir]
    if others:
        return []
    stopped: list[str] = []
    if settings.database_url is None and stop_postgres(data_dir / "postgres"):
        stopped.append("postgres")
    if settings.redis_url is None and EmbeddedRedis(data_dir).shutdown_running():
        stopped.append("redis")
    return stopped
