"""Webhook signatures as GitHub computes them: HMAC over the exact body bytes."""

from __future__ import annotations

import hashlib
import hmac


def signature_256(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_sha1(secret: str, body: bytes) -> str:
    """The legacy ``X-Hub-Signature`` value, still sent alongside the SHA-256 one."""
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver should do: recompute and compare in constant time."""
    return hmac.compare_digest(signature_256(secret, body), header)
