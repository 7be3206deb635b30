"""Envelope encryption of the secrets Shoal stores.

Each value gets a fresh data key (AES-256-GCM). The data key is wrapped (encrypted) by the
current key-encryption key (KEK), also with AES-256-GCM; the sealed value carries the KEK's
name, the wrapped data key and the ciphertext:

    shoal:v1:<kek name>:<base64url(nonce + wrapped data key)>:<base64url(nonce + ciphertext)>

Both encryptions take the record's identity (`context`, e.g. `secret:NPM_TOKEN`) as
associated data, so a sealed value copied to another record does not open there. Rotation:
the keyring's first key seals, every key opens, and `needs_reseal` says which values a
re-encryption pass should rewrite. Opening never says more than that it failed: no part of the
value, the key or the ciphertext reaches a message.

The AEAD itself is `cryptography`'s AESGCM; only the framing above is Shoal's.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shoal.domain.errors import ShoalError

__all__ = ["KEY_BYTES", "KEY_NAME", "DecryptionError", "Keyring", "is_sealed"]

KEY_BYTES = 32
KEY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_PREFIX = "shoal:v1:"
_NONCE = 12


class DecryptionError(ShoalError):
    """A sealed value did not open: unknown key, wrong record, or altered bytes."""

    code = "decryption_failed"


def is_sealed(value: str) -> bool:
    return value.startswith(_PREFIX)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Keyring:
    """Named KEKs, the first one current. Immutable; safe to share between threads."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("a keyring needs at least one key")
        names = [name for name, _ in keys]
        if len(set(names)) != len(names):
            raise ValueError("key names must differ")
        for name, key in keys:
            if not KEY_NAME.fullmatch(name) or len(key) != KEY_BYTES:
                raise ValueError(f"key {name!r} must be named [A-Za-z0-9_.-] and hold 32 bytes")
        self._keys = {name: AESGCM(key) for name, key in keys}
        self.current = names[0]
        self.names = tuple(names)

    def __repr__(self) -> str:  # never the keys
        return f"Keyring(current={self.current!r}, names={self.names!r})"

    @staticmethod
    def _wrap_aad(kek: str, context: str) -> bytes:
        return f"shoal-data-key\x00{kek}\x00{context}".encode()

    def seal(self, plaintext: str, *, context: str) -> str:
        data_key = AESGCM.generate_key(bit_length=256)
        wrap_nonce, nonce = os.urandom(_NONCE), os.urandom(_NONCE)
        wrapped = self._keys[self.current].encrypt(
            wrap_nonce, data_key, self._wrap_aad(self.current, context)
        )
        ciphertext = AESGCM(data_key).encrypt(nonce, plaintext.encode(), context.encode())
        return f"{_PREFIX}{self.current}:{_b64(wrap_nonce + wrapped)}:{_b64(nonce + ciphertext)}"

    def key_of(self, sealed: str) -> str:
        """The name of the KEK `sealed` was sealed under."""
        return self._parts(sealed)[0]

    def needs_reseal(self, sealed: str) -> bool:
        return self.key_of(sealed) != self.current

    def open(self, sealed: str, *, context: str) -> str:
        kek_name, wrapped, ciphertext = self._parts(sealed)
        kek = self._keys.get(kek_name)
        if kek is None:
            raise DecryptionError(
                f"a value for {context} was sealed under key {kek_name!r}, which is not among "
                f"the configured encryption keys ({', '.join(self.names)})",
                details={"context": context, "key": kek_name},
            )
        try:
            data_key = kek.decrypt(
                wrapped[:_NONCE], wrapped[_NONCE:], self._wrap_aad(kek_name, context)
            )
            plain = AESGCM(data_key).decrypt(
                ciphertext[:_NONCE], ciphertext[_NONCE:], context.encode()
            )
            return plain.decode()
        except (InvalidTag, ValueError, UnicodeDecodeError):
            raise DecryptionError(
                f"the value for {context} does not open under key {kek_name!r}: it was altered, "
                "or it belongs to another record",
                details={"context": context, "key": kek_name},
            ) from None

    def _parts(self, sealed: str) -> tuple[str, bytes, bytes]:
        try:
            if not is_sealed(sealed):
                raise ValueError
            kek_name, wrapped, ciphertext = sealed.removeprefix(_PREFIX).split(":")
            return kek_name, _unb64(wrapped), _unb64(ciphertext)
        except (ValueError, binascii.Error):
            raise DecryptionError("not a sealed value (expected shoal:v1:...)") from None
