"""The byte strings a step could write for a secret value: its common encodings.

One list serves both controls that look for secrets: the log redactor (`redact`) masks these
forms in step output, and the patch scanner (`secret_scan`) refuses a patch or a file name
that holds one. A form a step could use to smuggle a secret out is only worth adding here
when it is cheap to search for: every form is a plain substring search over the log and the
patch.

Covered: the value as is (and trimmed, and each line of a multi-line value), URL- and
JSON-escaped, reversed, rot13, hex (lower and upper case), base64 (standard and URL-safe,
padded or not) and base32 (upper and lower case) of the value, of the value with the newline
`echo` adds, and of the value inside a longer encoded text at each alignment it can have
there. Not covered, by design: encryption, compression (the scanner decompresses instead),
ciphers of the attacker's choosing, and a value split across places.
"""

from __future__ import annotations

import base64
import codecs
import json
import urllib.parse
from collections.abc import Iterable

__all__ = ["secret_forms"]

# Encoded runs shorter than this many bytes of the secret would match random text too often.
_MIN_EMBEDDED_BYTES = 6


def secret_forms(value: str) -> dict[bytes, str]:
    """Every form of `value`, each with the name of its encoding (for messages)."""
    forms: dict[bytes, str] = {}

    def add(kind: str, candidates: Iterable[bytes]) -> None:
        for form in candidates:
            if form:
                forms.setdefault(form, kind)

    texts = [value, value.strip(), *(line.strip() for line in value.splitlines())]
    add("as is", (text.encode() for text in texts))
    add(
        "URL-encoded",
        (
            urllib.parse.quote(value, safe="").encode(),
            urllib.parse.quote_plus(value, safe="").encode(),
        ),
    )
    add(
        "JSON-escaped",
        (json.dumps(value)[1:-1].encode(), json.dumps(value, ensure_ascii=False)[1:-1].encode()),
    )
    add("reversed", (text[::-1].encode() for text in texts))
    add("rot13", (codecs.encode(text, "rot13").encode() for text in texts))
    raw = value.encode()
    # `echo $S | base64` encodes the trailing newline too.
    whole = (raw, raw + b"\n")
    add("hex", (encoded for payload in whole for encoded in _hex(payload)))
    add("base64", _base64(whole))
    add("base64", _base64(_embedded(raw, group=3)))
    add("base32", _base32(whole))
    add("base32", _base32(_embedded(raw, group=5)))
    return forms


def _hex(payload: bytes) -> tuple[bytes, bytes]:
    # Hex is byte-aligned: the hex of a longer text holds the secret's hex wherever it is.
    return payload.hex().encode(), payload.hex().upper().encode()


def _base64(payloads: Iterable[bytes]) -> Iterable[bytes]:
    for payload in payloads:
        yield base64.b64encode(payload).rstrip(b"=")
        yield base64.urlsafe_b64encode(payload).rstrip(b"=")


def _base32(payloads: Iterable[bytes]) -> Iterable[bytes]:
    for payload in payloads:
        encoded = base64.b32encode(payload).rstrip(b"=")
        yield encoded
        yield encoded.lower()


def _embedded(raw: bytes, *, group: int) -> Iterable[bytes]:
    """The whole `group`-byte groups of `raw` at each alignment it can have in a longer text.

    Base64 (3-byte groups) or base32 (5-byte groups) of a file that holds the secret
    somewhere encodes those groups the same way whatever surrounds them; only the few
    characters that mix the secret's first and last bytes with its neighbours differ.
    """
    for lead in range(group):
        # `lead` is how many bytes of the secret share a group with what precedes it.
        whole = raw[lead:][: (len(raw) - lead) // group * group]
        if len(whole) >= _MIN_EMBEDDED_BYTES:
            yield whole
