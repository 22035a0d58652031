"""The record of one idempotent request, per user and key.

The table name is explicit: the model moved here from the bookings app without a data migration
(migration 0001 adopts the existing table in Django's state only)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.db.instants import now_ms


class IdempotencyState(models.TextChoices):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"


class IdempotencyRecord(models.Model):
    """The outcome of one idempotent request, per user and key."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idempotency_records"
    )
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # SHA-256 hex of method, route and body
    state = models.CharField(max_length=16, choices=IdempotencyState.choices)
    attempt = models.UUIDField(default=uuid.uuid4)  # new at every claim: only it may write
    claimed_at = models.DateTimeField(default=now_ms)
    response_status = models.IntegerField(null=True, blank=True)
    # The exact bytes sent, as text (not jsonb, which would reorder keys): replays are identical.
    response_body = models.TextField(null=True, blank=True)  # noqa: DJ001  # null until completed
    created_at = models.DateTimeField(default=now_ms)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "idempotency_records"
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_records_user_key"),
            models.CheckConstraint(
                condition=Q(state=IdempotencyState.IN_PROGRESS, completed_at__isnull=True)
                | Q(
                    state=IdempotencyState.COMPLETED,
                    completed_at__isnull=False,
                    response_status__isnull=False,
                    response_body__isnull=False,
                ),
                name="idempotency_records_completed_has_outcome",
            ),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self) -> str:
        return f"{self.key} ({self.state})"
