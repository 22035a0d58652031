"""manage.py issue_api_token: rotate a user's API token and print it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.selectors import user_get_by_email
from accounts.services import api_token_rotate
from core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Rotate the API token of the user with this email and print it; the old one stops working."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = user_get_by_email(email=options["email"])
            issued = api_token_rotate(user_id=user.pk)
        except DomainError as exc:
            raise CommandError(exc.message, returncode=1) from exc
        self.stdout.write(issued.token)
