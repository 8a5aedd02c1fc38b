"""Prometheus metrics of one app, in a registry of its own (never the process-global one).

``GET /metrics`` answers the Prometheus text format (``prometheus_client``):

| metric | labels | what |
| --- | --- | --- |
| ``weekend_http_requests_total`` | route, method, status | requests answered |
| ``weekend_http_request_duration_seconds`` | route | time to the response's start |
| ``weekend_predict_rows`` | model | rows per prediction request (batch sizes) |
| ``weekend_predictions_total`` | model, version, route | rows scored (primary, canary, shadow) |
| ``weekend_model_info`` | model, alias, version | 1 per served slot and its version |
| ``weekend_model_reloads_total`` | model, alias, outcome | alias moves (``swapped``, ``failed``) |
| ``weekend_shadow_skipped_total`` | model, reason | shadows not scored (``busy``, ``failed``) |
| ``weekend_prediction_log_lag_seconds`` | | age of the oldest record not yet written |
| ``weekend_prediction_log_pending`` | | records waiting in the log's buffer |
| ``weekend_prediction_log_dropped_total`` | | records the log could not keep |

Each app gets its own :class:`~prometheus_client.CollectorRegistry`, so two apps in one
process (tests, embedding) never mix their counts, and nothing registers globally.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_ROWS = (1, 2, 5, 10, 50, 100, 500, 1000, 5000, 10000)


class ServiceMetrics:
    """The metrics of one app (see the module docstring)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "weekend_http_requests", "Requests answered", ["route", "method", "status"], registry=r
        )
        self.latency = Histogram(
            "weekend_http_request_duration_seconds",
            "Time from a request's arrival to its response's start",
            ["route"],
            buckets=_LATENCY,
            registry=r,
        )
        self.rows = Histogram(
            "weekend_predict_rows", "Rows per prediction request", ["model"], buckets=_ROWS,
            registry=r,
        )  # fmt: skip
        self.predictions = Counter(
            "weekend_predictions", "Rows scored", ["model", "version", "route"], registry=r
        )
        self.model_info = Gauge(
            "weekend_model_info", "Served slots and their versions", ["model", "alias", "version"],
            registry=r,
        )  # fmt: skip
        self.reloads = Counter(
            "weekend_model_reloads", "Alias moves followed", ["model", "alias", "outcome"],
            registry=r,
        )  # fmt: skip
        self.shadow_skipped = Counter(
            "weekend_shadow_skipped",
            "Shadow scorings skipped (busy: the pool was full; failed: the shadow raised)",
            ["model", "reason"],
            registry=r,
        )
        self._log_lag = Gauge(
            "weekend_prediction_log_lag_seconds",
            "Age of the oldest prediction record not yet written",
            registry=r,
        )
        self._log_pending = Gauge(
            "weekend_prediction_log_pending", "Records waiting in the log's buffer", registry=r
        )
        self._log_dropped = Gauge(
            "weekend_prediction_log_dropped_total", "Records the log could not keep", registry=r
        )

    def watch_log(self, log: Any) -> None:
        """Read the prediction log's lag, pending and dropped counts when scraped (each
        attribute used only if the log has it)."""
        for gauge, name in (
            (self._log_lag, "lag_seconds"),
            (self._log_pending, "pending"),
            (self._log_dropped, "dropped"),
        ):
            gauge.set_function(_reader(log, name))

    def set_model(self, model: str, alias: str | None, version: int, old: int | None) -> None:
        label = alias or ""
        if old is not None:
            self.model_info.remove(model, label, str(old))
        self.model_info.labels(model, label, str(version)).set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _reader(log: Any, name: str) -> Callable[[], float]:
    def read() -> float:
        value = getattr(log, name, 0.0)
        value = value() if callable(value) else value
        return float(value or 0.0)

    return read


class MetricsMiddleware:
    """Counts every request by route template, method and status, and times it."""

    def __init__(self, app: ASGIApp, *, metrics: ServiceMetrics, paths: Mapping[Any, str]):
        self.app = app
        self.metrics = metrics
        self.paths = paths
        """Endpoint -> its route's path template (``/v1/models/{name}/predict``)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrived = time.perf_counter()
        status = 500

        async def counting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                route = self.paths.get(scope.get("endpoint"), "unmatched")
                self.metrics.latency.labels(route).observe(time.perf_counter() - arrived)
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            route = self.paths.get(scope.get("endpoint"), "unmatched")
            self.metrics.requests.labels(route, scope.get("method", ""), str(status)).inc()


__all__ = ["CONTENT_TYPE", "MetricsMiddleware", "ServiceMetrics"]
