"""Create (or update) a user whose API token is the given one; idempotent."""

from __future__ import annotations

import os
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Ensure USERNAME exists and owns the API token from --token or $API_TOKEN."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--token", default=os.environ.get("API_TOKEN", ""), help="default: $API_TOKEN")

    def handle(self, *args: Any, username: str, token: str, **options: Any) -> None:
        if len(token) < 20 or len(token) > 40:
            raise CommandError("the API token must be 20 to 40 characters long")
        user, _ = get_user_model().objects.get_or_create(username=username)
        existing = Token.objects.filter(user=user).first()
        if existing is not None and existing.key == token:
            self.stdout.write(f"token for {username}: unchanged")
            return
        Token.objects.filter(user=user).delete()
        Token.objects.filter(key=token).delete()
        Token.objects.create(user=user, key=token)
        self.stdout.write(f"token for {username}: set")
