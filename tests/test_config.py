"""Settings: environment, TOML file, precedence, validation and secret masking."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from pydantic import ValidationError

from shoal.config import AVAILABLE_EXECUTORS, Settings


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


PACING = (
    "github_writes_per_minute",
    "github_writes_per_hour",
    "github_min_write_interval_s",
    "max_prs_per_day_per_org",
)


def _pacing(settings: Settings) -> tuple[object, ...]:
    return (settings.github_profile_in_effect, *(getattr(settings, k) for k in PACING))


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, ("dotcom", 80, 500, 1.0, 150)),
        ({"SHOAL_GITHUB_API_URL": "https://ghe.acme.dev/api/v3"}, ("ghes", 0, 0, 0.0, 10_000)),
        ({"SHOAL_GITHUB_API_URL": "http://127.0.0.1:8080/api/v3/"}, ("ghes", 0, 0, 0.0, 10_000)),
        # GHE.com (data residency) is GitHub's cloud, with GitHub.com's limits.
        ({"SHOAL_GITHUB_API_URL": "https://api.acme.ghe.com"}, ("dotcom", 80, 500, 1.0, 150)),
        (
            {
                "SHOAL_GITHUB_API_URL": "https://ghe.acme.dev/api/v3",
                "SHOAL_GITHUB_PROFILE": "dotcom",
            },
            ("dotcom", 80, 500, 1.0, 150),
        ),
        ({"SHOAL_GITHUB_PROFILE": "ghes"}, ("ghes", 0, 0, 0.0, 10_000)),
    ],
    ids=["github.com", "ghes", "ghes-simulator", "ghe.com", "forced-dotcom", "forced-ghes"],
)
def test_the_github_profile_sets_pacing_and_budget_defaults(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: tuple[object, ...]
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert _pacing(settings) == expected
    assert settings.github_profile_overrides == {}


def test_explicit_settings_win_over_the_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "shoal.toml"
    config.write_text("max_prs_per_day_per_org = 40\ngithub_writes_per_hour = 900\n")
    monkeypatch.setenv("SHOAL_CONFIG_FILE", str(config))
    monkeypatch.setenv("SHOAL_GITHUB_PROFILE", "ghes")
    monkeypatch.setenv("SHOAL_GITHUB_MIN_WRITE_INTERVAL_S", "0.2")
    settings = Settings()
    assert _pacing(settings) == ("ghes", 0, 900, 0.2, 40)
    assert settings.github_profile_overrides == {
        "github_writes_per_hour": 900,
        "github_min_write_interval_s": 0.2,
        "max_prs_per_day_per_org": 40,
    }
    # A keyword wins too, and a value equal to the other profile's default is still kept.
    assert (
        Settings(github_profile="ghes", github_writes_per_minute=80).github_writes_per_minute == 80
    )


def test_an_unknown_profile_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOAL_GITHUB_PROFILE", "enterprise")
    with pytest.raises(ValidationError, match="github_profile"):
        Settings()


def test_executor_kinds_are_accepted_only_when_this_version_has_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shoal.domain.executions import EXECUTOR_KINDS
    from shoal.runtime.executors import BUILDERS

    assert set(BUILDERS) == set(AVAILABLE_EXECUTORS) and "local" in AVAILABLE_EXECUTORS
    # The kubernetes executor needs its images, pinned by digest.
    pinned = "registry.test/shoal@sha256:" + "0" * 64
    monkeypatch.setenv("SHOAL_KUBERNETES_RUNNER_IMAGE", pinned)
    monkeypatch.setenv("SHOAL_KUBERNETES_STEP_IMAGE", pinned)
    for kind in EXECUTOR_KINDS:
        monkeypatch.setenv("SHOAL_EXECUTOR", kind)
        if kind in AVAILABLE_EXECUTORS:
            assert Settings().executor == kind
            continue
        with pytest.raises(ValidationError) as caught:
            Settings()
        assert f"the {kind} executor is not supported yet in this version of Shoal" in str(
            caught.value
        )


def test_the_kubernetes_executor_needs_digest_pinned_images_and_cidr_egress(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pinned = "registry.test/shoal@sha256:" + "0" * 64
    monkeypatch.setenv("SHOAL_EXECUTOR", "kubernetes")
    monkeypatch.setenv("SHOAL_KUBERNETES_STEP_IMAGE", pinned)
    with pytest.raises(ValidationError, match="SHOAL_KUBERNETES_RUNNER_IMAGE: the kubernetes"):
        Settings()
    monkeypatch.setenv("SHOAL_KUBERNETES_RUNNER_IMAGE", "registry.test/shoal:1.0")
    with pytest.raises(ValidationError, match="pinned by digest"):
        Settings()
    monkeypatch.setenv("SHOAL_KUBERNETES_RUNNER_IMAGE", pinned)
    assert Settings().executor == "kubernetes"
    monkeypatch.setenv("SHOAL_EGRESS_ALLOW", '[{"host": "proxy.acme.dev", "ports": [3128]}]')
    with pytest.raises(ValidationError, match="can only allow CIDR blocks"):
        Settings()
    monkeypatch.setenv("SHOAL_EGRESS_ALLOW", '[{"cidr": "10.9.0.0/16", "ports": [3128]}]')
    assert [e.rule().cidr for e in Settings().egress_allow] == ["10.9.0.0/16"]
