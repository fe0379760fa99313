"""The optional OpenTelemetry set-up the service, the balancer and the load generator share.

Tracing runs only when a program's configuration names an OTLP endpoint (each ``config.py``
reads ``OTEL_EXPORTER_OTLP_ENDPOINT``) *and* the ``otel`` extra is installed
(opentelemetry-api, -sdk, -exporter-otlp-proto-http). :func:`installed` answers the second
without importing anything, so a program without the extra never loads it;
:func:`tracer_provider` builds a provider whose spans go in batches over OTLP/HTTP to
``<endpoint>/v1/traces``, as the OTLP exporter specification derives the traces URL from the
base endpoint. The SDK still reads its other ``OTEL_*`` settings (batch delay, headers…).
Each program keeps its own provider and shuts it down (flushing what is left) when it
stops; the global tracer provider is left alone.
"""

from __future__ import annotations

import importlib.util
from typing import Any

PACKAGES = ("opentelemetry.sdk", "opentelemetry.exporter.otlp.proto.http")
"""What the ``otel`` extra brings that tracing needs."""

TRACES_PATH = "v1/traces"
ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"


def endpoint_problem(endpoint: str | None) -> str | None:
    """Why an OTLP endpoint setting cannot be used (it must be an http(s) URL), or None."""
    if endpoint is None or endpoint.startswith(("http://", "https://")):
        return None
    return f"{ENDPOINT_VARIABLE} must be an http(s) URL, got {endpoint!r}"


def installed() -> bool:
    """Whether the ``otel`` extra is there (found without importing it)."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in PACKAGES)
    except ModuleNotFoundError:  # a parent package is missing
        return False


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL under a base endpoint (``http://host:4318`` → ``…/v1/traces``)."""
    return f"{endpoint.rstrip('/')}/{TRACES_PATH}"


def tracer_provider(endpoint: str, service_name: str, *, instance: str | None = None) -> Any:
    """A ``TracerProvider`` exporting in batches to ``endpoint`` (the extra must be installed).

    Typed ``Any``: the extra is optional, so its types are not part of the programs' own.
    """
    # Imported here so that a program without the extra never loads them.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    attributes = {"service.name": service_name}
    if instance:
        attributes["service.instance.id"] = instance
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url(endpoint))))
    return provider
