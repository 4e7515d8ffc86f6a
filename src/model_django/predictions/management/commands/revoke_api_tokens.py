"""Delete the API tokens of every user not listed on stdin; idempotent.

ensure_api_token only adds: without this, a user removed from the deployment's list
(app_django_api_tokens) would keep a working token forever.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from rest_framework.authtoken.models import Token

NOTHING = "no token revoked"


class Command(BaseCommand):
    help = (
        "Delete the API token of every user whose name is not on stdin (one per line); "
        f"print 'token for USER: revoked' for each, or '{NOTHING}'."
    )

    def add_arguments(self, parser: Any) -> None:
        # Required so that the destructive meaning is spelled out wherever it runs: an empty
        # stdin revokes every token.
        parser.add_argument(
            "--keep-users-from-stdin",
            action="store_true",
            required=True,
            help="keep the tokens of the users named on stdin, one per line",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # stdin like the other commands that the deployment runs, though names are no secret.
        keep = {line.strip() for line in sys.stdin.read().splitlines() if line.strip()}
        with transaction.atomic():
            doomed = list(Token.objects.select_related("user").exclude(user__username__in=keep))
            Token.objects.filter(pk__in=[token.pk for token in doomed]).delete()
        names = sorted(token.user.get_username() for token in doomed)
        for name in names:
            self.stdout.write(f"token for {name}: revoked")
        if not names:
            self.stdout.write(NOTHING)
