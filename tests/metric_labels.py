"""Random methods and paths, and the label values they left: shared by the Flask and Django tests."""

from __future__ import annotations

import random
import string

from model_core.metrics import Metrics

LIVE = "/v2/health/live"


def random_methods(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    letters = string.ascii_letters + string.digits + "-_"
    return ["".join(rng.choices(letters, k=rng.randint(1, 24))) for _ in range(count)]


def random_paths(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["/" + "/".join(f"p-{rng.getrandbits(64):x}" for _ in range(rng.randint(1, 4))) for _ in range(count)]


def request_label_values(metrics: Metrics) -> tuple[set[str], set[str]]:
    """The (method, route) label values of the request counter, and the latency's routes."""
    methods: set[str] = set()
    routes: set[str] = set()
    latency_routes: set[str] = set()
    for family in metrics.registry.collect():
        for sample in family.samples:
            if sample.name == "stackgen_http_requests_total":
                methods.add(sample.labels["method"])
                routes.add(sample.labels["route"])
            elif sample.name == "stackgen_http_request_duration_seconds_count":
                latency_routes.add(sample.labels["route"])
    assert latency_routes == routes
    return methods, routes
