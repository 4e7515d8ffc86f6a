"""Admin: prediction logs and model versions are records, so they are read-only there."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from .models import ModelVersion, PredictionLog


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(PredictionLog)
class PredictionLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "request_id", "model_name", "model_version", "status", "latency_ms", "caller")
    list_filter = ("status", "model_name", "model_version", "route", "created_at")
    search_fields = ("request_id", "input_digest", "caller__username")
    date_hierarchy = "created_at"


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = ("name", "version", "loader", "release", "sha256", "registered_at")
    list_filter = ("name", "loader")
    search_fields = ("name", "version", "release", "sha256")
