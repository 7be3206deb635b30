"""Secrets at rest: envelope encryption, its keys, rotation, and the ciphertexts really being
what PostgreSQL holds (raw rows read as the database has them)."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from shoal.config import Settings
from shoal.crypto import (
    DecryptionError,
    EncryptionKeyError,
    Keyring,
    create_key_file,
    load_keyring,
    open_setting,
    setting_context,
)
from shoal.crypto.keys import parse_keys
from shoal.domain.auth import Principal, Role
from shoal.services.context import AppContext
from shoal.services.encryption import reencrypt
from shoal.services.secrets import SecretSource, set_secret_value
from shoal.store.tables import audit_events, secret_values
from tests.servers import RunningApi, api_settings, running_api

VALUE = "npm_9xQ/secret+value=="
ADMIN = Principal(name="token:test-admin", role=Role.ADMIN)


def _key() -> bytes:
    return os.urandom(32)


def _line(name: str, key: bytes) -> str:
    return f"{name}:{base64.b64encode(key).decode()}"


# -- the envelope ---------------------------------------------------------------------------


def test_a_sealed_value_opens_only_for_its_record() -> None:
    keyring = Keyring([("k1", _key())])
    sealed = keyring.seal(VALUE, context="secret_values:NPM_TOKEN")
    assert sealed.startswith("shoal:v1:k1:")
    assert VALUE not in sealed and base64.b64encode(VALUE.encode()).decode() not in sealed
    assert keyring.open(sealed, context="secret_values:NPM_TOKEN") == VALUE
    # Two seals of one value differ (a fresh data key and nonces each time).
    assert keyring.seal(VALUE, context="secret_values:NPM_TOKEN") != sealed
    with pytest.raises(DecryptionError) as wrong_record:
        keyring.open(sealed, context="secret_values:OTHER")
    assert "belongs to another record" in wrong_record.value.message
    assert VALUE not in str(wrong_record.value.message) + str(wrong_record.value.details)


@pytest.mark.parametrize("part", [3, 4])
def test_an_altered_ciphertext_or_wrapped_key_does_not_open(part: int) -> None:
    keyring = Keyring([("k1", _key())])
    pieces = keyring.seal(VALUE, context="c").split(":")
    raw = bytearray(base64.urlsafe_b64decode(pieces[part] + "=" * (-len(pieces[part]) % 4)))
    raw[-1] ^= 1
    pieces[part] = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    with pytest.raises(DecryptionError):
        keyring.open(":".join(pieces), context="c")


def test_a_wrapped_data_key_moved_to_another_value_does_not_open() -> None:
    keyring = Keyring([("k1", _key())])
    first = keyring.seal("first", context="c").split(":")
    second = keyring.seal("second", context="c").split(":")
    with pytest.raises(DecryptionError):
        keyring.open(":".join([*first[:4], second[4]]), context="c")


def test_rotation_old_values_open_new_ones_use_the_new_key() -> None:
    old, new = _key(), _key()
    before = Keyring([("k1", old)]).seal(VALUE, context="c")
    rotated = Keyring([("k2", new), ("k1", old)])
    assert rotated.open(before, context="c") == VALUE
    assert rotated.needs_reseal(before)
    after = rotated.seal(VALUE, context="c")
    assert rotated.key_of(after) == "k2" and not rotated.needs_reseal(after)
    with pytest.raises(DecryptionError) as dropped:
        Keyring([("k2", new)]).open(before, context="c")
    assert "key 'k1', which is not among the configured encryption keys (k2)" in (
        dropped.value.message
    )
    # A key of the same name but other bytes is a wrong key, not a match.
    with pytest.raises(DecryptionError):
        Keyring([("k1", new)]).open(before, context="c")


def test_not_sealed_values_are_refused_plainly() -> None:
    with pytest.raises(DecryptionError) as refused:
        Keyring([("k1", _key())]).open("hunter2", context="c")
    assert refused.value.message == "not a sealed value (expected shoal:v1:...)"


# -- the keys -------------------------------------------------------------------------------


def test_keys_from_the_setting_first_one_current() -> None:
    new, old = _line("new", _key()), _line("old", _key())
    keyring = parse_keys(f"{new}, {old}", "SHOAL_ENCRYPTION_KEYS")
    assert keyring.current == "new" and keyring.names == ("new", "old")
    assert new.partition(":")[2] not in repr(keyring)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("", "no encryption key in"),
        ("k1", "is not `name:base64-key`"),
        ("bad name:" + base64.b64encode(b"x" * 32).decode(), "is not `name:base64-key`"),
        ("k1:" + base64.b64encode(b"short").decode(), "is not 32 bytes in base64"),
        ("k1:not-base64!!", "is not 32 bytes in base64"),
        (f"{_line('k1', b'a' * 32)}\n{_line('k1', b'b' * 32)}", "appears twice"),
    ],
)
def test_malformed_keys_are_one_clear_error_without_the_key(text: str, complaint: str) -> None:
    with pytest.raises(EncryptionKeyError) as refused:
        parse_keys(text, "SHOAL_ENCRYPTION_KEYS")
    assert complaint in refused.value.message
    assert "openssl rand -base64 32" in refused.value.message or "twice" in complaint
    for secret_part in (base64.b64encode(b"a" * 32).decode(), "not-base64!!"):
        assert secret_part not in refused.value.message


def test_a_missing_key_file_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHOAL_ENCRYPTION_KEYS")
    settings = Settings(data_dir=tmp_path)
    with pytest.raises(EncryptionKeyError) as missing:
        load_keyring(settings)
    assert missing.value.message.startswith(
        f"no encryption keys at {tmp_path / 'encryption.keys'}: `shoal up` creates them"
    )
    assert "SHOAL_ENCRYPTION_KEYS" in missing.value.message


def test_the_local_key_file_is_made_once_with_mode_0600(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHOAL_ENCRYPTION_KEYS")
    settings = Settings(data_dir=tmp_path / "data")
    made = create_key_file(settings)
    assert made == tmp_path / "data" / "encryption.keys"
    assert stat.S_IMODE(made.stat().st_mode) == 0o600
    first = made.read_text()
    assert create_key_file(settings) is None and made.read_text() == first
    assert load_keyring(settings).current == "local-1"
    # Keys given explicitly are never shadowed by a made-up file.
    configured = Settings(data_dir=tmp_path / "other", encryption_keys_path=tmp_path / "k")
    assert create_key_file(configured) is None and not (tmp_path / "other").exists()


def test_a_sealed_setting_opens_and_a_plain_one_stays() -> None:
    keyring = Keyring([("k1", _key())])
    sealed = keyring.seal("hook-secret", context=setting_context("github_webhook_secret"))
    assert open_setting(keyring, "github_webhook_secret", SecretStr(sealed)) == "hook-secret"
    assert open_setting(keyring, "github_webhook_secret", SecretStr("plain")) == "plain"
    assert open_setting(keyring, "github_webhook_secret", None) is None
    with pytest.raises(EncryptionKeyError) as refused:
        open_setting(Keyring([("k1", _key())]), "github_webhook_secret", SecretStr(sealed))
    assert "SHOAL_GITHUB_WEBHOOK_SECRET is sealed but does not open" in refused.value.message
    assert "hook-secret" not in refused.value.message


# -- stored step secrets ----------------------------------------------------------------------


@pytest.fixture
def api(db_url: str, redis_url: str) -> Iterator[RunningApi]:
    with running_api(api_settings(db_url, redis_url)) as running:
        yield running


def _rows(api: RunningApi) -> dict[str, tuple[str, str]]:
    with api.ctx.db.transaction() as conn:
        rows = conn.execute(
            sa.select(secret_values.c.name, secret_values.c.sealed, secret_values.c.key_id)
        )
        return {r.name: (r.sealed, r.key_id) for r in rows}


def test_a_value_set_over_the_api_is_ciphertext_in_postgres(
    api: RunningApi, tmp_path: Path
) -> None:
    with api.client(Role.ADMIN) as admin:
        first = admin.put("/secrets/NPM_TOKEN", json={"value": VALUE})
        again = admin.put("/secrets/NPM_TOKEN", json={"value": VALUE + "2"})
        listed = admin.get("/secrets")
    with api.client(Role.OPERATOR) as operator:
        refused = operator.put("/secrets/NPM_TOKEN", json={"value": "x"})
    assert first.status_code == 200 and first.json() == {
        "secret": "NPM_TOKEN",
        "changed": True,
        "replaced": False,
    }
    assert again.json()["replaced"] is True
    assert refused.status_code == 403
    (entry,) = listed.json()["secrets"]
    assert entry["stored"] is True and entry["set_by"] == "token:test-admin"
    assert VALUE not in listed.text

    sealed, key_id = _rows(api)["NPM_TOKEN"]
    assert sealed.startswith(f"shoal:v1:{key_id}:") and key_id == "test-1"
    assert VALUE not in sealed
    with api.ctx.db.transaction() as conn:
        # The whole table and every audit event as text: no value anywhere.
        dumped = conn.exec_driver_sql(
            "SELECT string_agg(t::text, '') FROM secret_values t"
        ).scalar_one()
        audit = conn.execute(
            sa.select(audit_events.c.action, audit_events.c.details).where(
                audit_events.c.target == "secret:NPM_TOKEN"
            )
        ).all()
    assert VALUE not in dumped
    assert [a.action for a in audit] == ["secret.set", "secret.set"]
    assert all(VALUE not in str(a.details) for a in audit)

    source = SecretSource(api.ctx.db, api.ctx.keyring, tmp_path / "none")
    assert source.resolve(["NPM_TOKEN"]) == {"NPM_TOKEN": VALUE + "2"}


def test_a_ciphertext_copied_to_another_row_does_not_open(api: RunningApi, tmp_path: Path) -> None:
    set_secret_value(api.ctx, ADMIN, "REAL", VALUE)
    set_secret_value(api.ctx, ADMIN, "DECOY", "decoy")
    sealed, _ = _rows(api)["REAL"]
    with api.ctx.db.transaction() as conn:
        conn.execute(
            sa.update(secret_values).where(secret_values.c.name == "DECOY").values(sealed=sealed)
        )
    source = SecretSource(api.ctx.db, api.ctx.keyring, tmp_path / "none")
    with pytest.raises(DecryptionError) as refused:
        source.resolve(["DECOY"])
    assert "secret_values:DECOY" in refused.value.message and VALUE not in refused.value.message


def test_a_stored_value_wins_over_a_file_and_delete_falls_back(
    api: RunningApi, tmp_path: Path
) -> None:
    (tmp_path / "TOKEN").write_text("from-file\n")
    source = SecretSource(api.ctx.db, api.ctx.keyring, tmp_path)
    assert source.resolve(["TOKEN"]) == {"TOKEN": "from-file"}
    set_secret_value(api.ctx, ADMIN, "TOKEN", "from-api")
    assert source.resolve(["TOKEN"]) == {"TOKEN": "from-api"}
    with api.client(Role.ADMIN) as admin:
        deleted = admin.delete("/secrets/TOKEN").json()
        again = admin.delete("/secrets/TOKEN").json()
    assert deleted["changed"] is True and again["changed"] is False
    assert source.resolve(["TOKEN"]) == {"TOKEN": "from-file"}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"value": ""}, 422),
        ({"value": "x" * (64 * 1024 + 1)}, 422),
        ({"value": "a\x00b"}, 422),
        ({"value": 5}, 422),
        ({}, 422),
    ],
)
def test_bad_values_are_refused_without_echoing_them(
    api: RunningApi, body: dict[str, object], status: int
) -> None:
    with api.client(Role.ADMIN) as admin:
        response = admin.put("/secrets/NPM_TOKEN", json=body)
    assert response.status_code == status
    if body.get("value"):
        assert str(body["value"])[:20] not in response.text
    assert _rows(api) == {}


def _ctx_with_keys(api: RunningApi, keys: str) -> AppContext:
    settings = api.ctx.settings.model_copy(update={"encryption_keys": SecretStr(keys)})
    return AppContext(settings=settings, db=api.ctx.db, redis=api.ctx.redis, clock=api.ctx.clock)


def test_rotation_then_reencrypt_in_batches(api: RunningApi, tmp_path: Path) -> None:
    old = os.environ["SHOAL_ENCRYPTION_KEYS"]  # test-1, what the API seals with
    new = _line("k2", _key())
    names = [f"S{i}" for i in range(5)]
    for name in names:
        set_secret_value(api.ctx, ADMIN, name, f"value-{name}")
    rotated = _ctx_with_keys(api, f"{new},{old}")
    source = SecretSource(rotated.db, rotated.keyring, tmp_path)
    # Old ciphertexts still open under the rotated keyring; new ones use the new key.
    assert source.resolve(names) == {n: f"value-{n}" for n in names}
    set_secret_value(rotated, ADMIN, "FRESH", "fresh")
    assert _rows(api)["FRESH"][1] == "k2"
    assert {_rows(api)[n][1] for n in names} == {"test-1"}

    done = reencrypt(rotated, actor="system:test", batch=2)
    assert (done.key, done.secrets_resealed) == ("k2", 5)
    assert {key for _, key in _rows(api).values()} == {"k2"}
    only_new = _ctx_with_keys(api, new)
    assert SecretSource(only_new.db, only_new.keyring, tmp_path).resolve(names) == {
        n: f"value-{n}" for n in names
    }
    assert reencrypt(rotated, actor="system:test").changed == 0  # idempotent
    with api.ctx.db.transaction() as conn:
        events = conn.execute(
            sa.select(audit_events.c.details).where(audit_events.c.action == "encryption.reencrypt")
        ).all()
    assert [e.details["secrets_resealed"] for e in events] == [5]
