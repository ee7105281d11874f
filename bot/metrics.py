"""Liveness, readiness and Prometheus metrics of one instance (issue 17).

`/healthz` answers 200 while the event loop runs. `/readyz` answers 200 when the database (and
Redis, if configured) answer, else 503, so that a load balancer stops sending webhooks to an
instance that cannot store them. `/metrics` is the Prometheus text format: updates handled and
their handler latency (counted as they happen), the outbox backlog, the age of its oldest
message and the SLA breaches (read from the database at each scrape, so every instance reports
the shared figures).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from domain.clock import Clock
from storage.health import SqlOpsQueries

logger = logging.getLogger(__name__)

REGISTRY = CollectorRegistry()
UPDATES_HANDLED = Counter(
    "orderdesk_updates_handled", "Updates processed, by outcome", ["outcome"], registry=REGISTRY
)
HANDLER_SECONDS = Histogram(
    "orderdesk_update_handler_seconds",
    "Time from an update's start of processing to its end (transaction and replies)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
OUTBOX_BACKLOG = Gauge("orderdesk_outbox_backlog", "Outbox messages waiting to be sent", registry=REGISTRY)
OUTBOX_OLDEST_AGE = Gauge(
    "orderdesk_outbox_oldest_age_seconds", "Age of the oldest outbox message waiting", registry=REGISTRY
)
SLA_BREACHES = Gauge("orderdesk_sla_breaches", "SLA breach alerts recorded", registry=REGISTRY)

Check = Callable[[], Awaitable[object]]


class OpsEndpoints:
    """The request handlers of /healthz, /readyz and /metrics."""

    def __init__(
        self, queries: SqlOpsQueries, clock: Clock, extra_checks: dict[str, Check] | None = None
    ) -> None:
        self._queries = queries
        self._clock = clock
        self._checks = extra_checks or {}

    async def healthz(self, _request: web.Request) -> web.Response:
        """Alive."""
        return web.Response(text="ok")

    async def readyz(self, _request: web.Request) -> web.Response:
        """Ready when the database and the other dependencies answer."""
        checks: dict[str, Check] = {"database": self._queries.ping, **self._checks}
        failed = []
        for name, check in checks.items():
            try:
                await check()
            except Exception as error:
                logger.warning("Readiness: %s does not answer (%s)", name, type(error).__name__)
                failed.append(name)
        if failed:
            return web.Response(text="not ready: " + ", ".join(failed), status=503)
        return web.Response(text="ready")

    async def metrics(self, _request: web.Request) -> web.Response:
        """The Prometheus metrics, the shared figures read now."""
        try:
            figures = await self._queries.figures()
        except Exception as error:
            logger.warning("Metrics: the database figures could not be read (%s)", type(error).__name__)
        else:
            OUTBOX_BACKLOG.set(figures.outbox_backlog)
            oldest = figures.oldest_pending_at
            OUTBOX_OLDEST_AGE.set(0 if oldest is None else (self._clock.now() - oldest).total_seconds())
            SLA_BREACHES.set(figures.sla_breaches)
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    def add_routes(self, app: web.Application) -> None:
        """Serves the three endpoints on app."""
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics)
