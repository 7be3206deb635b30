"""Settings: environment, TOML file, precedence, validation and secret masking."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from pydantic import ValidationError

from shoal.config import Settings


def test_environment_and_file_with_environment_winning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "shoal.toml"
    config.write_text('api_port = 9001\nlog_level = "debug"\nmax_prs_per_day_per_org = 40\n')
    monkeypatch.setenv("SHOAL_CONFIG_FILE", str(config))
    monkeypatch.setenv("SHOAL_API_PORT", "9002")
    settings = Settings()
    assert settings.api_port == 9002
    assert settings.log_level == "debug"
    assert settings.max_prs_per_day_per_org == 40


def test_secrets_are_masked_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOAL_DATABASE_URL", "postgresql://shoal:hunter2pw@db/shoal")
    monkeypatch.setenv("SHOAL_GITHUB_PRIVATE_KEY", "-----BEGIN RSA PRIVATE KEY-----xyz")
    settings = Settings()
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert "hunter2pw" not in text
        assert "BEGIN RSA" not in text
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value().endswith("hunter2pw@db/shoal")


def test_bad_values_name_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOAL_API_PORT", "seventy")
    with pytest.raises(ValidationError, match="api_port"):
        Settings()


def test_unknown_key_in_the_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "shoal.toml"
    config.write_text("api_prot = 1\n")
    monkeypatch.setenv("SHOAL_CONFIG_FILE", str(config))
    with pytest.raises(ValidationError, match="api_prot"):
        Settings()


def test_generated_docs_are_current() -> None:
    script = Path(__file__).resolve().parents[1] / "scripts" / "gen_docs.py"
    spec = importlib.util.spec_from_file_location("gen_docs", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for path, render in module.GENERATED.items():
        assert path.read_text() == render(), (
            f"{path} is stale: run `uv run python scripts/gen_docs.py`"
        )
