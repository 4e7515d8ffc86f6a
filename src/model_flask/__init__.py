"""Flask adapter over :mod:`model_core`: routing and request/response copying only."""

from .app import create_app

__all__ = ["create_app"]
