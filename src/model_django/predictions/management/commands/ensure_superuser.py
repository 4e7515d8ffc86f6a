"""Create or update a superuser; idempotent. The password comes on stdin, never in argv or the environment."""

from __future__ import annotations

import sys
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Ensure USERNAME exists as a superuser whose password is the first line of stdin."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="", help="e-mail address (kept when empty)")

    def handle(self, *args: Any, username: str, email: str, **options: Any) -> None:
        # Secrets on a command line or in an environment block show up in ps and sudo logs.
        password = sys.stdin.readline().rstrip("\n")
        if not password:
            raise CommandError("send the superuser's password as the first line of stdin")
        user, created = get_user_model().objects.get_or_create(username=username, defaults={"email": email})
        changed = created or not user.check_password(password) or not (user.is_superuser and user.is_staff)
        if changed:
            user.is_superuser = user.is_staff = True
            user.email = email or user.email
            user.set_password(password)
            user.save()
        self.stdout.write("changed" if changed else "unchanged")
