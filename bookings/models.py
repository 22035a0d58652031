"""Bookings: a guest's place on a slot. Never deleted; cancelled instead (SPEC §2.3)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from slotbooking.models import BaseModel
from slots.models import Slot


class BookingStatus(models.TextChoices):
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"


class Booking(BaseModel):
    # db_index=False: the (slot, status) and (user, status) indexes serve lookups by either.
    slot = models.ForeignKey(
        Slot, on_delete=models.PROTECT, related_name="bookings", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bookings", db_index=False
    )
    status = models.CharField(
        max_length=16, choices=BookingStatus.choices, default=BookingStatus.CONFIRMED
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "bookings"
        indexes = [
            models.Index(fields=["user", "status"], name="bookings_user_status_idx"),
            models.Index(fields=["slot", "status"], name="bookings_slot_status_idx"),
            models.Index(fields=["created_at"], name="bookings_created_idx"),
        ]
        constraints = [
            # One guest, one place per slot. Capacity itself is held by the slot's booked_count,
            # which the trigger bookings_sync_slot keeps equal to its CONFIRMED bookings, under
            # CHECK booked_count <= capacity: a booking beyond capacity cannot even be written.
            models.UniqueConstraint(
                fields=["slot", "user"],
                condition=Q(status=BookingStatus.CONFIRMED),
                name="bookings_one_confirmed_per_user_and_slot",
            ),
            models.CheckConstraint(
                condition=Q(status=BookingStatus.CANCELLED, cancelled_at__isnull=False)
                | Q(status=BookingStatus.CONFIRMED, cancelled_at__isnull=True),
                name="bookings_cancelled_at_matches_status",
            ),
        ]

    def __str__(self) -> str:
        return f"Booking {self.pk} ({self.status})"
