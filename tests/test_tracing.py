"""Tracing stays off unless the standard OTEL_* variables ask for an OTLP exporter."""

from __future__ import annotations

import pytest

from shoal.observability.tracing import _enabled, configure_tracing, current_traceparent


@pytest.mark.parametrize(
    ("env", "enabled"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "shoal"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, False),
    ],
)
def test_tracing_is_on_only_when_the_environment_asks(env: dict[str, str], enabled: bool) -> None:
    assert _enabled(env) is enabled


def test_without_an_exporter_nothing_is_installed_or_propagated() -> None:
    assert configure_tracing("shoal", env={}) is False
    assert current_traceparent() is None  # a task queued now carries no trace context
