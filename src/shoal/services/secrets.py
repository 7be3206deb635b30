"""Step secrets: read from the configured secret source when a step needs them, never stored.

The source is a directory with one file per secret, named by the secret (the layout of a
Kubernetes Secret mounted as a volume). Values are read at execution time, passed only to the
steps that list them, and masked in every log line.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from shoal.domain.errors import InvalidInputError

__all__ = ["DirectorySecretSource", "SecretMissingError"]


class SecretMissingError(InvalidInputError):
    code = "secret_missing"


class DirectorySecretSource:
    def __init__(self, root: Path) -> None:
        self.root = root

    def resolve(self, names: Iterable[str]) -> dict[str, str]:
        """The values of `names`; a missing one fails the execution with a precise message."""
        values: dict[str, str] = {}
        for name in names:
            path = self.root / name
            try:
                # One trailing newline is an artifact of how files are written, not the secret.
                values[name] = path.read_text(encoding="utf-8").removesuffix("\n")
            except FileNotFoundError:
                raise SecretMissingError(
                    f"secret {name!r} is not configured: create the file {path} "
                    "(or mount a Secret with that key there)",
                    details={"secret": name},
                ) from None
        return values
