"""URLs: every core route (same paths as the Flask service) plus the admin."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path, register_converter

from model_core.routes import ROUTES, SEGMENT_REGEX

from .api.views import VIEWS


class SegmentConverter:
    """A path segment without ':' so that /v1/models/<name>:predict never matches /v1/models/<name>."""

    regex = SEGMENT_REGEX

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(SegmentConverter, "segment")

urlpatterns = [path("admin/", admin.site.urls)] + [
    path(route.formatted("<segment:{}>").lstrip("/"), VIEWS[route.name], name=route.name) for route in ROUTES
]

handler400 = "model_django.api.errors.bad_request"
handler404 = "model_django.api.errors.not_found"
handler500 = "model_django.api.errors.server_error"
