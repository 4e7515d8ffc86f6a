"""Record the release's model (from its manifest) in the model-version table; idempotent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from model_core.errors import ArtifactError
from model_core.manifest import load_manifest, verify_artifact

from ...models import ModelVersion


class Command(BaseCommand):
    help = "Verify the model in MODEL_DIR and record it as a ModelVersion (no-op when already recorded)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("model_dir", type=Path)

    def handle(self, *args: Any, model_dir: Path, **options: Any) -> None:
        try:
            manifest = load_manifest(model_dir)
            verify_artifact(model_dir, manifest)
        except ArtifactError as exc:
            raise CommandError(str(exc)) from None
        raw = (model_dir / "manifest.json").read_text()
        version, created = ModelVersion.objects.get_or_create(
            name=manifest.name,
            version=manifest.version,
            sha256=manifest.sha256,
            defaults={
                "loader": manifest.loader,
                "release": str(manifest.extra.get("release", "")),
                "manifest": json.loads(raw),
            },
        )
        self.stdout.write(f"{'registered' if created else 'already registered'}: {version}")
