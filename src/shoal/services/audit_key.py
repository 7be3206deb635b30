"""The audit chain's key: read from a setting or a file, never from the database."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from shoal.config import Settings
from shoal.domain.audit import AuditKey
from shoal.domain.errors import ShoalError

__all__ = ["MIN_KEY_CHARS", "AuditKeyError", "create_audit_key_file", "load_audit_key"]

MIN_KEY_CHARS = 32


class AuditKeyError(ShoalError):
    """The audit key is missing or unusable; the message says which setting to fix."""

    code = "audit_key_unusable"


def load_audit_key(settings: Settings) -> AuditKey:
    if settings.audit_key is not None:
        return _key(settings.audit_key.get_secret_value(), "SHOAL_AUDIT_KEY")
    path = settings.audit_key_file
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise AuditKeyError(
            f"no audit key at {path}: `shoal up` creates one on first start; for separate api "
            "and worker processes set SHOAL_AUDIT_KEY_PATH to a file every process can read "
            "(the same key everywhere, e.g. a mounted Secret) or SHOAL_AUDIT_KEY"
        ) from None
    except OSError as exc:
        raise AuditKeyError(f"cannot read the audit key {path}: {exc.strerror}") from None
    return _key(text, str(path))


def _key(text: str, where: str) -> AuditKey:
    value = text.strip()
    if len(value) < MIN_KEY_CHARS:
        raise AuditKeyError(
            f"the audit key in {where} is shorter than {MIN_KEY_CHARS} characters: use e.g. "
            "`openssl rand -hex 32`"
        )
    return AuditKey(value.encode())


def create_audit_key_file(settings: Settings) -> Path | None:
    """Create <data_dir>/audit.key (0600) if no key is configured and none exists yet;
    returns the path when it made one. A configured key file that is missing is an error for
    `load_audit_key` to report, not something to invent here."""
    if settings.audit_key is not None or settings.audit_key_path is not None:
        return None
    path = settings.audit_key_file
    if path.exists():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole under a temporary name, then linked into place: a process starting at the
    # same moment sees no key or the whole key, never half of one, and one key wins.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32) + "\n")
    try:
        os.link(tmp, path)
    except FileExistsError:
        return None
    finally:
        tmp.unlink()
    return path
