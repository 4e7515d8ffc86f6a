"""Framework-free request and response values passed between adapters and the core."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

JSON = "application/json"


@dataclass
class ApiRequest:
    method: str
    path: str
    headers: Callable[[str], str | None]  # case-insensitive header lookup
    body: bytes = b""
    remote_addr: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)  # what handlers learned, for observers


@dataclass(frozen=True)
class InferenceRecord:
    """One inference request as an observer (e.g. Django's prediction log) sees it."""

    request_id: str
    route: str
    model_name: str | None
    model_version: str | None
    input_digest: str  # sha256 of the request body
    predictions: list[Any] | None  # the first output, one entry per row, when it succeeded
    latency_ms: float
    status: int


InferenceObserver = Callable[[InferenceRecord, ApiRequest], None]
# A dependency readiness also waits for (e.g. Django's database): None when fine, else a short reason.
ReadyCheck = Callable[[], str | None]


@dataclass
class ApiResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": JSON})


def json_response(status: int, document: Any) -> ApiResponse:
    return ApiResponse(status, json.dumps(document, separators=(",", ":")).encode() + b"\n")
