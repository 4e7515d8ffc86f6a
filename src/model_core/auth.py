"""Bearer-token check for the inference routes."""

from __future__ import annotations

import hmac

from .errors import Unauthorized


def check_bearer(header: str | None, tokens: tuple[str, ...]) -> None:
    """Raise Unauthorized unless ``header`` is ``Bearer <one of tokens>``."""
    if not header or not header.startswith("Bearer "):
        raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
    offered = header[len("Bearer ") :].strip().encode()
    # Compare against every token so that timing reveals neither which nor how much matched.
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(offered, token.encode())
    if not matched:
        raise Unauthorized("invalid bearer token")
