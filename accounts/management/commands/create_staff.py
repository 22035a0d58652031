"""manage.py create_staff: make a staff user (or promote one) and print a new API token."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import staff_create
from core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Create a staff user, or make the existing user with this email staff. Prints the user "
        "id and a new API token (staff privileges on the API need a token). With "
        "--password-from-env VAR the password for /admin/ is read from that variable."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--superuser", action="store_true", help="all admin permissions")
        parser.add_argument(
            "--password-from-env",
            metavar="VAR",
            help="environment variable holding the admin password (never on the command line)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password = None
        if options["password_from_env"]:
            password = os.environ.get(options["password_from_env"])
            if not password:
                raise CommandError(f"{options['password_from_env']} is not set", returncode=2)
        try:
            user, issued = staff_create(
                email=options["email"],
                name=options["name"],
                superuser=options["superuser"],
                password=password,
            )
        except DomainError as exc:
            raise CommandError(exc.message, returncode=1) from exc
        self.stdout.write(f"staff user {user.email} id={user.pk}")
        self.stdout.write(f"API token (shown once): {issued.token}")
