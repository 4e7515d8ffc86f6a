"""Create or update the superuser from environment variables; idempotent, never prints the password."""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Ensure $STACKGEN_SUPERUSER_NAME exists as a superuser with $STACKGEN_SUPERUSER_PASSWORD."

    def handle(self, *args: Any, **options: Any) -> None:
        name = os.environ.get("STACKGEN_SUPERUSER_NAME", "")
        password = os.environ.get("STACKGEN_SUPERUSER_PASSWORD", "")
        email = os.environ.get("STACKGEN_SUPERUSER_EMAIL", "")
        if not name or not password:
            raise CommandError("STACKGEN_SUPERUSER_NAME and STACKGEN_SUPERUSER_PASSWORD must be set")
        user, created = get_user_model().objects.get_or_create(username=name, defaults={"email": email})
        changed = created or not user.check_password(password) or not (user.is_superuser and user.is_staff)
        if changed:
            user.is_superuser = user.is_staff = True
            user.email = email or user.email
            user.set_password(password)
            user.save()
        self.stdout.write("changed" if changed else "unchanged")
