"""The key-encryption keys: from a setting or a file, never from the database."""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from shoal.config import Settings
from shoal.crypto.envelope import KEY_BYTES, KEY_NAME, DecryptionError, Keyring, is_sealed
from shoal.domain.errors import ShoalError

__all__ = [
    "SEALABLE_SETTINGS",
    "EncryptionKeyError",
    "create_key_file",
    "load_keyring",
    "open_setting",
    "parse_keys",
    "setting_context",
]

# Settings that may be given sealed (`shoal admin seal-setting NAME`), so that the file or
# Secret holding them never has the plaintext.
SEALABLE_SETTINGS = ("github_webhook_secret", "ui_oidc_client_secret")

_HINT = (
    "set SHOAL_ENCRYPTION_KEYS=name:KEY or SHOAL_ENCRYPTION_KEYS_PATH to a file of such "
    "lines (the same keys in every api and worker process, e.g. a mounted Secret); make a key "
    "with `openssl rand -base64 32`"
)


class EncryptionKeyError(ShoalError):
    """The encryption keys are missing or malformed; the message says which setting to fix
    (and never holds a key)."""

    code = "encryption_keys_unusable"


def parse_keys(text: str, where: str) -> Keyring:
    entries = [part.strip() for part in text.replace(",", "\n").splitlines()]
    keys: list[tuple[str, bytes]] = []
    for number, entry in enumerate((e for e in entries if e and not e.startswith("#")), 1):
        name, sep, encoded = entry.partition(":")
        name = name.strip()
        if not sep or not KEY_NAME.fullmatch(name):
            raise EncryptionKeyError(
                f"encryption key {number} in {where} is not `name:base64-key` with a name of "
                f"letters, digits, '_', '.', '-'; {_HINT}"
            )
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != KEY_BYTES:
            raise EncryptionKeyError(
                f"encryption key {name!r} in {where} is not {KEY_BYTES} bytes in base64; {_HINT}"
            )
        if any(name == known for known, _ in keys):
            raise EncryptionKeyError(f"encryption key name {name!r} appears twice in {where}")
        keys.append((name, key))
    if not keys:
        raise EncryptionKeyError(f"no encryption key in {where}; {_HINT}")
    return Keyring(keys)


def load_keyring(settings: Settings) -> Keyring:
    if settings.encryption_keys is not None:
        return parse_keys(settings.encryption_keys.get_secret_value(), "SHOAL_ENCRYPTION_KEYS")
    path = settings.encryption_keys_file
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise EncryptionKeyError(
            f"no encryption keys at {path}: `shoal up` creates them on first start; for "
            f"separate api and worker processes {_HINT}"
        ) from None
    except OSError as exc:
        raise EncryptionKeyError(
            f"cannot read the encryption keys {path}: {exc.strerror}"
        ) from None
    return parse_keys(text, str(path))


def create_key_file(settings: Settings) -> Path | None:
    """Create <data_dir>/encryption.keys (0600) with one fresh key when no keys are configured
    and none exist yet; returns the path when it made one (`shoal up` only)."""
    if settings.encryption_keys is not None or settings.encryption_keys_path is not None:
        return None
    path = settings.encryption_keys_file
    if path.exists():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    line = f"local-1:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}\n"
    # Written whole under a temporary name, then linked into place: a process starting at the
    # same moment sees no keys or all of them, and one file wins.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(line)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return None
    finally:
        tmp.unlink()
    return path


def setting_context(name: str) -> str:
    return f"setting:{name}"


def open_setting(keyring: Keyring, name: str, value: SecretStr | None) -> str | None:
    """A sealable setting's plaintext: opened when it was given sealed, as is otherwise."""
    if value is None:
        return None
    text = value.get_secret_value()
    if not is_sealed(text):
        return text
    try:
        return keyring.open(text, context=setting_context(name))
    except DecryptionError as exc:
        raise EncryptionKeyError(
            f"SHOAL_{name.upper()} is sealed but does not open: {exc.message}; seal it again "
            f"with `shoal admin seal-setting {name}` under the current keys"
        ) from None
