"""The signer against the test vector in GitHub's "Validating webhook deliveries" docs."""

from __future__ import annotations

from shoal_sim.webhooks.signing import signature_256, signature_sha1, verify

SECRET = "It's a Secret to Everybody"
PAYLOAD = b"Hello, World!"
EXPECTED = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_signature_matches_the_docs_test_vector() -> None:
    assert signature_256(SECRET, PAYLOAD) == EXPECTED
    assert verify(SECRET, PAYLOAD, EXPECTED)


def test_signature_covers_the_exact_bytes() -> None:
    assert not verify(SECRET, PAYLOAD + b" ", EXPECTED)
    assert not verify("another secret", PAYLOAD, EXPECTED)
    assert signature_sha1(SECRET, PAYLOAD).startswith("sha1=")
