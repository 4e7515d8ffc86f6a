"""Bearer tokens on the inference routes: the one parser of the Authorization header, shared
by the core's own check (Flask) and Django's DRF authenticator, so both adapters accept and
refuse exactly the same headers with the same messages."""

from __future__ import annotations

import hmac
import re

from .errors import Unauthorized

MISSING = "missing bearer token: send 'Authorization: Bearer <token>'"
INVALID = "invalid bearer token"
# What a 401 answers in WWW-Authenticate (RFC 9110 §11.6.1), on both adapters.
CHALLENGE = "Bearer"

# RFC 9110 §11.4: credentials = auth-scheme [ 1*SP token68 ]; the scheme is case-insensitive.
# Tabs and repeated spaces are tolerated as separators (DRF always did), nothing else is.
_CREDENTIALS = re.compile(r"(?P<scheme>[^ \t]+)(?:[ \t]+(?P<rest>.*))?", re.DOTALL)
# Any visible ASCII character: stricter than token68 would refuse tokens already in use.
_TOKEN = re.compile(r"[\x21-\x7e]+")


class MissingToken(Unauthorized):
    """No bearer credentials at all: the request is anonymous, which an adapter may allow."""

    def __init__(self) -> None:
        super().__init__(MISSING)


def parse_bearer(header: str | None) -> str:
    """The token in ``Authorization: Bearer <token>``.

    Raises MissingToken when there is no header, another scheme (e.g. Basic) or no token after
    the scheme, and Unauthorized(INVALID) when the token cannot be one (spaces inside, control
    or non-ASCII characters)."""
    match = _CREDENTIALS.fullmatch((header or "").strip(" \t"))
    if match is None or match["scheme"].lower() != "bearer":
        raise MissingToken()
    token = match["rest"] or ""
    if not token:
        raise MissingToken()
    if not _TOKEN.fullmatch(token):
        raise Unauthorized(INVALID)
    return token


def is_acceptable_token(token: str) -> bool:
    """Whether a configured token could ever arrive through parse_bearer."""
    return bool(_TOKEN.fullmatch(token))


def check_bearer(header: str | None, tokens: tuple[str, ...]) -> None:
    """Raise Unauthorized unless ``header`` carries one of ``tokens``."""
    offered = parse_bearer(header).encode()
    # Compare against every token so that timing reveals neither which nor how much matched.
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(offered, token.encode())
    if not matched:
        raise Unauthorized(INVALID)
