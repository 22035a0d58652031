"""manage.py cleanup: prune expired idempotency records; beat runs it hourly too."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from core.idempotency.records import idempotency_prune


class Command(BaseCommand):
    help = "Delete idempotency records older than IDEMPOTENCY_KEY_TTL_HOURS."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = idempotency_prune()
        self.stdout.write(self.style.SUCCESS(f"{deleted} expired idempotency records deleted"))
