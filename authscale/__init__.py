"""authscale: reproduce, measure and explain horizontal scale-out of an auth service.

The distribution holds four programs, each its own package, and this small one that joins
them under one command:

- ``service``  — the Sanic auth service (``authscale service``)
- ``balancer`` — the asyncio round-robin reverse proxy (``authscale balancer``)
- ``loadgen``  — the k6-style load generator (``authscale loadgen``)
- ``lab``      — topologies, experiments and reports (``authscale lab …``; needs the
  ``lab`` extra)

Rooms of this package: ``cli`` (the ``authscale`` command), ``argparsing`` (the parser every
command line uses: one-line errors, exit status 2), ``otel`` (the optional OpenTelemetry
set-up the three programs share).
"""

from __future__ import annotations

from importlib import metadata


def version() -> str:
    """The installed distribution's version (``0+unknown`` when run from a bare checkout)."""
    try:
        return metadata.version("authscale")
    except metadata.PackageNotFoundError:
        return "0+unknown"
