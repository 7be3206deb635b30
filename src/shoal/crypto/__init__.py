"""Secrets at rest: envelope encryption under named key-encryption keys."""

from shoal.crypto.envelope import DecryptionError, Keyring, is_sealed
from shoal.crypto.keys import (
    SEALABLE_SETTINGS,
    EncryptionKeyError,
    create_key_file,
    load_keyring,
    open_setting,
    setting_context,
)

__all__ = [
    "SEALABLE_SETTINGS",
    "DecryptionError",
    "EncryptionKeyError",
    "Keyring",
    "create_key_file",
    "is_sealed",
    "load_keyring",
    "open_setting",
    "setting_context",
]
