"""``GET /metrics`` in Prometheus text format: gauges read when scraped, counters and histograms
moved by the daemon as things happen, and every request's latency by route."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rbee.common.audit import CURRENT as AUDIT
from rbee.common.connections import COUNTS

# seconds, from a fast local call to a cold start on a loaded machine
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
RATE_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500)  # tokens per second


class Counts(Collector):
    """A counter read, when scraped, from counts the daemon keeps itself: ``read()`` gives
    ``{label value: count}`` (with *label*) or the one count (without)."""

    def __init__(self, name: str, help_text: str, read: Callable[[], dict[str, int]] | Callable[[], int],
                 label: str = "") -> None:
        self.name, self.help_text, self.read, self.label = name, help_text, read, label

    def collect(self) -> Iterator[CounterMetricFamily]:
        counts = self.read()
        if isinstance(counts, int):
            yield CounterMetricFamily(self.name, self.help_text, value=counts)
            return
        family = CounterMetricFamily(self.name, self.help_text, labels=[self.label])
        for value, count in sorted(counts.items()):
            family.add_metric([value], count)
        yield family


class AuditAnchor(Collector):
    """``rbee_audit_anchor{last_hash}``: the records in the daemon's audit trail, labelled with the last
    one's hash (one series, replaced as the trail grows): a copy of the anchor off the machine."""

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        family = GaugeMetricFamily("rbee_audit_anchor", "records in the audit trail, by the last one's hash",
                                   labels=["last_hash"])
        family.add_metric([AUDIT.last_hash], float(AUDIT.records))
        yield family
        yield CounterMetricFamily("rbee_audit_write_failures", "audit records that could not be written "
                                  "(a full disk, say): the daemon served on unaudited", value=AUDIT.write_failures)
        yield CounterMetricFamily("rbee_audit_rotations", "times the audit trail moved to FILE.<n> at "
                                  "--audit-max-bytes", value=AUDIT.rotations)


class Metrics:
    """One daemon's series, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()

    def counter(self, name: str, help_text: str, labels: Sequence[str] = ()) -> Counter:
        return Counter(name, help_text, labels, registry=self.registry)

    def histogram(self, name: str, help_text: str, labels: Sequence[str] = (),
                  buckets: Sequence[float] = LATENCY_BUCKETS) -> Histogram:
        return Histogram(name, help_text, labels, buckets=buckets, registry=self.registry)

    def counts(self, name: str, help_text: str, read: Callable[[], dict[str, int]] | Callable[[], int],
               label: str = "") -> None:
        """A counter kept by the daemon itself (see Counts)."""
        self.registry.register(Counts(name, help_text, read, label))


def install_metrics(app: FastAPI, gauges: dict[str, tuple[str, Callable[[], float]]], prefix: str) -> Metrics:
    """Serve each ``name: (help, read)`` as a gauge at ``GET /metrics``, with ``{prefix}_request_seconds``
    (by method and route) for every request; returns the registry for the daemon's own series."""
    metrics = Metrics()
    for name, (help_text, read) in gauges.items():
        Gauge(name, help_text, registry=metrics.registry).set_function(read)
    metrics.registry.register(AuditAnchor())
    Gauge("rbee_connections_open", "client connections served now", registry=metrics.registry).set_function(
        lambda: COUNTS.open)
    for name, help_text, read in [
        ("rbee_connections_refused_total", "connections closed at once: --max-connections reached",
         lambda: COUNTS.refused),
        ("rbee_header_timeouts_total", "connections closed: no whole request headers within --header-timeout",
         lambda: COUNTS.header_timeouts),
        ("rbee_body_timeouts_total", "requests answered 408: the body took longer than --body-timeout",
         lambda: COUNTS.body_timeouts),
    ]:
        metrics.counts(name, help_text, read)
    latency = metrics.histogram(f"{prefix}_request_seconds", "time to the start of each answer",
                                ("method", "route"))
    app.add_middleware(RequestTimer, histogram=latency)

    @app.get("/metrics", include_in_schema=False)
    async def serve_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return metrics


# methods that keep their own label; any other is counted as "other" (a client chooses the method
# name: each new one would be a new series)
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestTimer:
    """Observes each request's time to its answer's start, labelled with the route's template
    (``/v1/jobs/{job_id}``, never the path itself: the label values stay few)."""

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                route = scope.get("route")
                template = getattr(route, "path", "unmatched")
                method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"
                self.histogram.labels(method, template).observe(time.perf_counter() - started)
            await send(message)

        await self.app(scope, receive, timed)
