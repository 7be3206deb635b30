"""Deterministic identities: numeric ids, GraphQL node ids and opaque tokens.

Ids come from per-kind counters and tokens from a ``random.Random`` seeded by the
simulator's seed, so two runs with the same seed and the same requests hand out the same
values. Users and organizations share one id space, as on GitHub.
"""

from __future__ import annotations

import base64
import random
import string
import threading

_ALPHABET = string.ascii_letters + string.digits

# Starting points chosen to look like real ids and never collide between kinds.
_BASES = {
    "account": 100_000,
    "repo": 500_000,
    "team": 7_000,
    "app": 1_000,
    "installation": 40_000,
    "label": 900_000,
    "pull": 2_000_000,
    "comment": 3_000_000,
    "review": 4_000_000,
    "check": 6_000_000,
    "status": 8_000_000,
    "hook": 10_000,
    "delivery": 20_000_000,
    "ruleset": 30_000,
}


def node_id(type_name: str, ident: int | str) -> str:
    """GitHub's legacy global id: base64 of ``0<len>:<Type><id>`` (e.g. ``04:User1``)."""
    raw = f"0{len(type_name)}:{type_name}{ident}"
    return base64.b64encode(raw.encode()).decode()


def parse_node_id(value: str) -> tuple[str, str] | None:
    """Inverse of :func:`node_id`; ``None`` when the value is not one of ours."""
    try:
        raw = base64.b64decode(value, validate=True).decode()
        length, rest = raw.split(":", 1)
        size = int(length)
    except (ValueError, UnicodeDecodeError):
        return None
    return rest[:size], rest[size:]


class Identities:
    def __init__(self, seed: int) -> None:
        self._lock = threading.Lock()
        self._next = dict(_BASES)
        self._rng = random.Random(seed)  # noqa: S311 - determinism is the point

    def next_id(self, kind: str) -> int:
        with self._lock:
            self._next[kind] += 1
            return self._next[kind]

    def _random(self, size: int) -> str:
        return "".join(self._rng.choice(_ALPHABET) for _ in range(size))

    def installation_token(self) -> str:
        # Length varies on purpose: GitHub warns clients not to assume 40 characters.
        with self._lock:
            return "ghs_" + self._random(self._rng.randint(36, 72))

    def classic_pat(self) -> str:
        with self._lock:
            return "ghp_" + self._random(36)

    def fine_grained_pat(self) -> str:
        with self._lock:
            return f"github_pat_{self._random(22)}_{self._random(59)}"

    def secret(self, size: int = 40) -> str:
        with self._lock:
            return self._random(size)

    def client_id(self) -> str:
        with self._lock:
            return "Iv23li" + self._random(14)
