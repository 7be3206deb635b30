"""OpenTelemetry traces: an API request, the tasks it queued, and their GitHub calls and
executions as one trace.

Off by default: `configure_tracing` installs an SDK tracer provider with the OTLP exporter
only when `OTEL_TRACES_EXPORTER` is `otlp` or an `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT` is
set (and `OTEL_SDK_DISABLED` is not `true`); the exporter reads the other standard `OTEL_*`
variables itself. Without it the API's no-op tracer records nothing and costs next to nothing.

A task carries its trace context as a W3C `traceparent` string in its payload, written when
it is queued inside a recorded span, so the worker continues the trace of the request (or
task) that queued it. Span attributes are ids, route templates and repository names; never a
URL, a header, a token or a secret value.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.trace import Span, SpanKind

__all__ = [
    "TRACEPARENT",
    "annotate",
    "configure_tracing",
    "continued",
    "current_traceparent",
    "span",
    "tracer",
]

TRACEPARENT = "traceparent"
_TRACER = "shoal"
# The provider spans go to; None: the global one `configure_tracing` may have installed (a
# test sets its own here, with an in-memory exporter, and puts it back afterwards).
provider: trace.TracerProvider | None = None


def _enabled(env: Mapping[str, str]) -> bool:
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = {e.strip().lower() for e in env.get("OTEL_TRACES_EXPORTER", "").split(",")}
    if "otlp" in exporters:
        return True
    if "none" in exporters:
        return False
    return bool(
        env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def configure_tracing(service: str, env: Mapping[str, str] | None = None) -> bool:
    """Install the OTLP-exporting tracer provider if the environment asks for it; True if it
    did. `service` names the process (`shoal-api`, `shoal-worker`) unless `OTEL_SERVICE_NAME`
    does."""
    env = os.environ if env is None else env
    if not _enabled(env):
        return False
    # Imported here: a process without tracing never loads the SDK and the exporter.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME") or service})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return True


def tracer() -> trace.Tracer:
    return trace.get_tracer(_TRACER, tracer_provider=provider)


@contextmanager
def span(name: str, *, kind: SpanKind = SpanKind.INTERNAL, **attributes: Any) -> Iterator[Span]:
    with tracer().start_as_current_span(name, kind=kind) as current:
        annotate(**attributes)
        yield current


def annotate(**attributes: Any) -> None:
    """Set attributes (None values skipped) on the current span, if one is recording."""
    current = trace.get_current_span()
    if not current.is_recording():
        return
    for key, value in attributes.items():
        if value is not None:
            current.set_attribute(
                key, value if isinstance(value, bool | int | float) else str(value)
            )


def current_traceparent() -> str | None:
    """The current span's context as a `traceparent`, or None outside a span this process
    records (with tracing off, a caller's `traceparent` header is not passed on to tasks)."""
    if not trace.get_current_span().is_recording():
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get(TRACEPARENT)


@contextmanager
def continued(carrier: Mapping[str, str]) -> Iterator[None]:
    """Run the block in the trace context `carrier` (W3C headers) names, if any."""
    token = context.attach(propagate.extract(dict(carrier)))
    try:
        yield
    finally:
        context.detach(token)
