"""``GET /metrics`` in Prometheus text format: gauges read from the daemon's state when scraped."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest


def install_metrics(app: FastAPI, gauges: dict[str, tuple[str, Callable[[], float]]]) -> None:
    """Serve each ``name: (help, read)`` as a gauge at ``GET /metrics`` (a registry per app)."""
    registry = CollectorRegistry()
    for name, (help_text, read) in gauges.items():
        Gauge(name, help_text, registry=registry).set_function(read)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
