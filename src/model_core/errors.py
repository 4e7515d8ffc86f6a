"""Errors that map one-to-one onto HTTP statuses with a JSON body."""

from __future__ import annotations


class ApiError(Exception):
    """An error the client caused or must be told about; ``status`` is the HTTP status."""

    status = 500

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class NotFound(ApiError):
    status = 404


class MethodNotAllowed(ApiError):
    status = 405


class PayloadTooLarge(ApiError):
    status = 413


class UnsupportedMediaType(ApiError):
    status = 415


class NotReady(ApiError):
    status = 503


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the variable and what is allowed."""


class ArtifactError(Exception):
    """The model artifact is missing, corrupt or does not match its manifest."""
