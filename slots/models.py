"""Slots: a host's bookable time ranges, with their invariants held by PostgreSQL."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeBoundary, RangeOperators
from django.db import models
from django.db.models import F, Func, Q

from core.db.instants import now_ms
from core.db.models import BaseModel


class SlotStatus(models.TextChoices):
    AVAILABLE = "AVAILABLE"
    BOOKED = "BOOKED"
    CANCELLED = "CANCELLED"


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class Slot(BaseModel):
    # db_index=False: the (host, start_time) index serves every lookup by host.
    host = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="slots", db_index=False
    )
    start_time = models.DateTimeField()
    end_time = models.DateTimeField()
    capacity = models.IntegerField(default=1)
    # Maintained only by the trigger bookings_sync_slot (declared on Booking); never by code.
    booked_count = models.IntegerField(default=0, editable=False)
    # ACTIVE holds on the slot, lapsed ones included until they are marked EXPIRED. Maintained
    # only by the trigger holds_sync_slot (declared on Hold); never by code.
    held_count = models.IntegerField(default=0, db_default=0, editable=False)
    status = models.CharField(
        max_length=16, choices=SlotStatus.choices, default=SlotStatus.AVAILABLE
    )

    class Meta:
        db_table = "slots"
        indexes = [
            models.Index(fields=["host", "start_time"], name="slots_host_start_idx"),
            models.Index(fields=["status", "start_time"], name="slots_status_start_idx"),
            models.Index(fields=["start_time"], name="slots_start_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_time__gt=F("start_time")), name="slots_end_after_start"
            ),
            models.CheckConstraint(condition=Q(capacity__gte=1), name="slots_capacity_positive"),
            models.CheckConstraint(
                condition=Q(booked_count__gte=0, booked_count__lte=F("capacity")),
                name="slots_booked_within_capacity",
            ),
            # Held places count against capacity too: a booking or a hold beyond it cannot be
            # written, whatever code writes it.
            models.CheckConstraint(
                condition=Q(held_count__gte=0, booked_count__lte=F("capacity") - F("held_count")),
                name="slots_held_within_capacity",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=SlotStatus.CANCELLED, booked_count=0)
                    | Q(status=SlotStatus.BOOKED, booked_count=F("capacity"))
                    | Q(status=SlotStatus.AVAILABLE, booked_count__lt=F("capacity"))
                ),
                name="slots_status_matches_count",
            ),
            # Half-open ranges '[)': 10:00-11:00 and 11:00-12:00 do not overlap. A cancelled
            # slot blocks nothing.
            ExclusionConstraint(
                name="slots_no_overlap",
                expressions=[
                    ("host", RangeOperators.EQUAL),
                    (TsTzRange("start_time", "end_time", RangeBoundary()), RangeOperators.OVERLAPS),
                ],
                condition=~Q(status=SlotStatus.CANCELLED),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.start_time:%Y-%m-%d %H:%M}-{self.end_time:%H:%M} UTC ({self.status})"


class SlotEventAction(models.TextChoices):
    CREATED = "CREATED"
    UPDATED = "UPDATED"  # an admin edit of times or capacity
    CANCELLED = "CANCELLED"  # deleted with booking history: kept as CANCELLED
    DELETED = "DELETED"  # never had a booking: the row is gone, this event stays


class SlotEvent(models.Model):
    """One slot state change, written in the same transaction as the change.

    Append-only: the trigger slot_events_append_only rejects UPDATE and DELETE. `slot` has no
    foreign-key constraint, because a slot that never had a booking is deleted and its history
    must outlive it. `source` takes the values of core.audit.EventSource.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(default=now_ms, editable=False)
    slot = models.ForeignKey(
        Slot,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="events",
        db_index=False,
    )
    host = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    action = models.CharField(max_length=16, choices=SlotEventAction.choices)
    # Null for management commands and system tasks.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="slot_events",
    )
    source = models.CharField(max_length=8)
    # NULL is "no state" (before CREATED, after DELETED), as in booking_events; never "".
    old_status = models.CharField(max_length=16, choices=SlotStatus.choices, null=True)  # noqa: DJ001
    new_status = models.CharField(max_length=16, choices=SlotStatus.choices, null=True)  # noqa: DJ001
    old_start_time = models.DateTimeField(null=True)
    old_end_time = models.DateTimeField(null=True)
    new_start_time = models.DateTimeField(null=True)
    new_end_time = models.DateTimeField(null=True)
    old_capacity = models.IntegerField(null=True)
    new_capacity = models.IntegerField(null=True)
    request_id = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001

    class Meta:
        db_table = "slot_events"
        indexes = [
            models.Index(fields=["slot", "created_at"], name="slot_events_slot_idx"),
            models.Index(fields=["host", "created_at"], name="slot_events_host_idx"),
            models.Index(fields=["created_at"], name="slot_events_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} slot {self.slot_id} ({self.source})"
