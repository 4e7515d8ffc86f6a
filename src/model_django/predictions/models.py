"""What Django keeps about the model: every deployed version and a log of predictions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ModelVersion(models.Model):
    """Filled from the release's manifest at deploy (manage.py register_model)."""

    name = models.CharField(max_length=200)
    version = models.CharField(max_length=100)
    loader = models.CharField(max_length=50)
    sha256 = models.CharField(max_length=64)
    release = models.CharField(max_length=100, blank=True)
    manifest = models.JSONField()
    registered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "version", "sha256"], name="unique_model_artifact")]
        ordering = ["-registered_at"]

    def __str__(self) -> str:
        return f"{self.name} {self.version} ({self.sha256[:12]})"


class PredictionLog(models.Model):
    """One inference request: who asked, what went in (digest), what came out, how fast."""

    request_id = models.CharField(max_length=128, db_index=True)
    model_name = models.CharField(max_length=200, blank=True)
    model_version = models.CharField(max_length=100, blank=True)
    route = models.CharField(max_length=200)
    input_digest = models.CharField(max_length=64)
    output = models.JSONField(null=True, blank=True)
    latency_ms = models.FloatField()
    status = models.PositiveSmallIntegerField(db_index=True)
    caller = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # When the request was answered: the spool's loader inserts rows later than that.
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["model_name", "model_version"])]
        # A retry of one request (same X-Request-ID, same body) on a second host is one row.
        constraints = [models.UniqueConstraint(fields=["request_id", "input_digest"], name="one_log_row_per_request")]

    def __str__(self) -> str:
        return f"{self.request_id} {self.status}"
