"""Prometheus metrics, safe under gunicorn's several worker processes.

With PROMETHEUS_MULTIPROC_DIR set (the gunicorn role sets it), each worker writes
its samples to that directory and /metrics aggregates them; otherwise the
process's own registry is exposed.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from .routes import ROUTES

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


# Label values come only from these fixed sets: a client choosing the method name or the path
# must not be able to mint a new time series (each costs memory in every worker and in Prometheus).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"})
OTHER_METHOD = "other"
UNMATCHED = "unmatched"
ROUTE_LABELS = frozenset(route.path for route in ROUTES) | {UNMATCHED}


def method_label(method: str) -> str:
    # Methods are case-sensitive (RFC 9110 §9.1): "get" is not GET and counts as other.
    return method if method in METHODS else OTHER_METHOD


def route_label(route: str) -> str:
    return route if route in ROUTE_LABELS else UNMATCHED


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "stackgen_http_requests",
            "HTTP requests by route, method and status",
            ("route", "method", "status"),
            registry=r,
        )
        self.latency = Histogram(
            "stackgen_http_request_duration_seconds",
            "HTTP request latency by route",
            ("route",),
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "stackgen_http_requests_in_flight", "Requests being served now", registry=r, multiprocess_mode="livesum"
        )
        self.load_seconds = Gauge(
            "stackgen_model_load_seconds",
            "Seconds to verify, load and warm up the model",
            registry=r,
            multiprocess_mode="max",
        )
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.model_info = Gauge(
            "stackgen_model_info",
            "The served model (value is always 1)",
            ("name", "version", "loader", "release"),
            registry=r,
            multiprocess_mode="max",
        )

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route_label(route), method_label(method), status)
        children = self._children.get(key)
        if children is None:
            # labels() takes a lock and builds a key each call; the label sets are fixed and
            # small (routes x methods x statuses), so each combination's children are kept.
            children = (self.requests.labels(key[0], key[1], str(status)), self.latency.labels(key[0]))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def model_loaded(self, name: str, version: str, loader: str, release: str, seconds: float) -> None:
        self.load_seconds.set(seconds)
        self.model_info.labels(name, version, loader, release).set(1)

    def render(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
