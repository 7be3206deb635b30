"""Simulator settings: the mode (GitHub.com or GHES), limits, token lifetimes and paths."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path


class Mode(enum.StrEnum):
    DOTCOM = "dotcom"
    GHES = "ghes"


@dataclass
class RateLimitConfig:
    """GitHub's published defaults (github-api.md section 6); every number is adjustable."""

    primary_enabled: bool = True
    secondary_enabled: bool = True
    anonymous_per_hour: int = 60
    search_per_minute: int = 30
    anonymous_search_per_minute: int = 10
    user_per_hour: int = 5_000
    installation_base: int = 5_000
    installation_per_repo: int = 50
    installation_free_repos: int = 20
    installation_cap: int = 12_500
    max_concurrent: int = 100
    points_per_minute: int = 900
    content_per_minute: int = 80
    content_per_hour: int = 500
    # GitHub does not publish how long a secondary block lasts; docs say wait at least a minute.
    secondary_retry_after: int = 60

    @classmethod
    def for_mode(cls, mode: Mode) -> RateLimitConfig:
        if mode is Mode.GHES:
            # "Rate limits are disabled by default for GitHub Enterprise Server."
            return cls(primary_enabled=False, secondary_enabled=False)
        return cls()


@dataclass
class SimConfig:
    data_dir: Path
    mode: Mode = Mode.DOTCOM
    seed: int = 0
    admin_token: str = ""
    installation_token_ttl: int = 3600
    # Bind address; the simulator is a local test peer and never listens publicly.
    host: str = "127.0.0.1"
    port: int = 0
    # When set, response URLs use this origin instead of the request's Host header.
    public_origin: str | None = None
    ghes_version: str = "3.19.0"
    rate_limits: RateLimitConfig = field(default_factory=RateLimitConfig)

    @property
    def ghes(self) -> bool:
        return self.mode is Mode.GHES
