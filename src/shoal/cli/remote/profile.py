"""Where the CLI keeps the server URL and token (`shoal login`): a 0600 file in the user's
config dir. `SHOAL_URL` and `SHOAL_TOKEN` override it."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Profile", "config_path", "load_profile", "save_profile"]


@dataclass(frozen=True)
class Profile:
    url: str
    token: str

    def __repr__(self) -> str:
        return f"Profile(url={self.url!r}, token='***')"


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "shoal" / "cli.json"


def save_profile(profile: Profile) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Create with 0600 from the start: the token must never be readable by others, not even
    # for the moment between a write and a chmod.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"url": profile.url, "token": profile.token}, fh)
    path.chmod(0o600)
    return path


def load_profile() -> Profile | None:
    url = os.environ.get("SHOAL_URL")
    token = os.environ.get("SHOAL_TOKEN")
    path = config_path()
    if path.exists():
        stored = json.loads(path.read_text())
        url = url or stored.get("url")
        token = token or stored.get("token")
    if url and token:
        return Profile(url=url.rstrip("/"), token=token)
    return None
