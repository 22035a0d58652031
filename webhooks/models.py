"""Webhook endpoints and the transactional outbox: events, their deliveries and each attempt.

An event row is written by the service that makes the change, in the same transaction, together
with one delivery row per endpoint that should hear of it; so both exist if and only if the change
committed. Workers deliver after commit; the schedule of every delivery lives in next_attempt_at.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Func, Q, Value

from core.db.models import BaseModel


class EventType(models.TextChoices):
    BOOKING_CREATED = "booking.created"
    BOOKING_CANCELLED = "booking.cancelled"
    BOOKING_RESCHEDULED = "booking.rescheduled"
    SLOT_CREATED = "slot.created"
    SLOT_CANCELLED = "slot.cancelled"
    WAITLIST_OFFERED = "waitlist.offered"


class DeliveryStatus(models.TextChoices):
    PENDING = "PENDING"  # waiting for its next attempt (next_attempt_at), or being attempted
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"  # gave up: attempts exhausted, or the endpoint answered 410 Gone


class ArrayContainedBy(Func):
    """`lhs <@ rhs` for arrays, so the database itself refuses an unknown event type."""

    arg_joiner = " <@ "
    template = "(%(expressions)s)"
    output_field = models.BooleanField()


class WebhookEndpoint(BaseModel):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.CharField(max_length=2000)
    events = ArrayField(models.CharField(max_length=32, choices=EventType.choices), default=list)
    all_events = models.BooleanField(default=False)
    description = models.CharField(max_length=500, blank=True, default="")
    # The HMAC key. Kept readable because every delivery is signed with it; shown to the owner
    # only once, in the answer to the creation.
    secret = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    # While a delivery to this endpoint is in flight: one attempt per endpoint at a time, so a
    # slow or dead receiver ties up one worker thread at most, never the deliveries of others.
    busy_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "webhook_endpoints"
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["owner", "created_at"], name="webhook_endpoints_owner")]
        constraints = [
            models.CheckConstraint(
                condition=ArrayContainedBy(
                    F("events"),
                    Value(
                        list(EventType.values),
                        output_field=ArrayField(models.CharField(max_length=32)),
                    ),
                ),
                name="webhook_endpoints_known_events",
            ),
            models.CheckConstraint(
                condition=Q(is_active=True, deactivated_at__isnull=True)
                | Q(is_active=False, deactivated_at__isnull=False),
                name="webhook_endpoints_deactivated_at_iff_inactive",
            ),
        ]

    def __str__(self) -> str:
        return self.url


class WebhookEvent(BaseModel):
    type = models.CharField(max_length=32, choices=EventType.choices)
    # The exact bytes every attempt sends (and signs): the JSON payload, serialised once.
    body = models.TextField()

    class Meta:
        db_table = "webhook_events"
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["created_at"], name="webhook_events_created")]

    def __str__(self) -> str:
        return f"{self.type} {self.pk}"


class WebhookDelivery(BaseModel):
    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempt_count = models.PositiveIntegerField(default=0)  # attempts made, ever
    # attempt_count when the current series of retries began (0, or when an admin redelivered):
    # the backoff and WEBHOOK_MAX_ATTEMPTS count from here.
    series_start = models.PositiveIntegerField(default=0)
    # When the next attempt is due. While an attempt runs it is the attempt's lease: a worker
    # that dies mid-delivery leaves it behind, and the sweep retries once it has passed.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "webhook_deliveries"
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_deliveries_due",
                condition=Q(status="PENDING"),
            ),
            models.Index(fields=["endpoint", "created_at"], name="webhook_deliveries_endpoint"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "endpoint"], name="webhook_deliveries_one_per_endpoint"
            ),
            models.CheckConstraint(
                condition=Q(status="PENDING", next_attempt_at__isnull=False)
                | (~Q(status="PENDING") & Q(next_attempt_at__isnull=True)),
                name="webhook_deliveries_pending_iff_scheduled",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint_id}"


class WebhookAttempt(BaseModel):
    """One POST to the receiver: when, how long, and its answer (status or error, 1 KiB)."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, default="")

    class Meta:
        db_table = "webhook_attempts"
        ordering = ("delivery", "number")
        indexes = [models.Index(fields=["created_at"], name="webhook_attempts_created")]
        constraints = [
            models.UniqueConstraint(
                fields=["delivery", "number"], name="webhook_attempts_one_per_number"
            ),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"
