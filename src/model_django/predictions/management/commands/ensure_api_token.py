"""Create (or update) a user whose API token is the one read from stdin; idempotent."""

from __future__ import annotations

import sys
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token

from model_core.auth import is_acceptable_token


class Command(BaseCommand):
    help = "Ensure USERNAME exists and owns the API token given as the first line of stdin."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        # The token never travels in argv or the environment, where ps and sudo logs would show it.
        token = sys.stdin.readline().strip()
        # Visible ASCII only: anything else could never arrive through model_core.auth.parse_bearer.
        if not 20 <= len(token) <= 40 or not is_acceptable_token(token):
            raise CommandError(
                "the API token (first line of stdin) must be 20 to 40 characters long, visible ASCII without spaces"
            )
        user, _ = get_user_model().objects.get_or_create(username=username)
        existing = Token.objects.filter(user=user).first()
        if existing is not None and existing.key == token:
            self.stdout.write(f"token for {username}: unchanged")
            return
        Token.objects.filter(user=user).delete()
        Token.objects.filter(key=token).delete()
        Token.objects.create(user=user, key=token)
        self.stdout.write(f"token for {username}: set")
