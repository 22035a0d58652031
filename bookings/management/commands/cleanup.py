"""manage.py cleanup: prune expired idempotency records and the webhook delivery log older than
30 days; beat runs both hourly too."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from core.idempotency.records import idempotency_prune
from webhooks.services import webhook_prune


class Command(BaseCommand):
    help = (
        "Delete idempotency records older than IDEMPOTENCY_KEY_TTL_HOURS and webhook events, "
        "deliveries and attempts older than 30 days."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = idempotency_prune()
        self.stdout.write(self.style.SUCCESS(f"{deleted} expired idempotency records deleted"))
        pruned = webhook_prune()
        self.stdout.write(
            self.style.SUCCESS(f"{pruned} webhook log rows older than 30 days deleted")
        )
