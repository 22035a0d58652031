"""Slots: a host's bookable time ranges, with their invariants held by PostgreSQL."""

from __future__ import annotations

import uuid

import pgtrigger
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


# Rollups for analytics -------------------------------------------------------------------------
# Every instant offset of a modern zone is a multiple of 15 minutes (+5:30, +5:45, +8:45, +12:45),
# so sums over 15-minute UTC buckets answer a range of whole local days exactly.
QUARTER_SQL = "date_bin('15 minutes', {instant}, TIMESTAMPTZ '2000-01-01 00:00:00+00')"
# Concurrent writers to one bucket spread over this many rows, summed at read time: one row per
# bucket would serialise every booking made in the same quarter of an hour on its row lock. The
# stripe is the writer's backend: two transactions in flight at once are on two connections, and
# a bucket gets one row per connection that wrote to it (not one per booking), so reads stay
# small. A cancellation may land on another stripe than its booking: only the sums mean anything.
ROLLUP_STRIPES = 16
STRIPE_SQL = f"(pg_backend_pid() % {ROLLUP_STRIPES})"


def _slots_rollup_sql() -> str:
    """The body of the trigger slots_rollup: slot_quarters follows the slots that are not
    CANCELLED, by the quarter of their start_time.

    Each change subtracts the old row's (capacity, booked_count) from its bucket and adds the new
    row's, in one upsert when the bucket stays the same (a booking: booked_count + 1). A slot's
    host never changes (the host-day rollup of bookings depends on it): such an UPDATE fails.
    """
    cancelled = SlotStatus.CANCELLED.value
    upsert = """
        INSERT INTO slot_quarters AS q (bucket, stripe, capacity, booked)
        VALUES ({bucket}, writer_stripe, {capacity}, {booked})
        ON CONFLICT (bucket, stripe) DO UPDATE
           SET capacity = q.capacity + EXCLUDED.capacity, booked = q.booked + EXCLUDED.booked;"""
    return f"""
    IF TG_OP = 'UPDATE' AND NEW.host_id <> OLD.host_id THEN
        RAISE EXCEPTION 'a slot''s host never changes' USING ERRCODE = 'check_violation',
            CONSTRAINT = 'slots_host_unchanged';
    END IF;
    writer_stripe := {STRIPE_SQL};
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status <> '{cancelled}' THEN
        old_bucket := {QUARTER_SQL.format(instant="OLD.start_time")};
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status <> '{cancelled}' THEN
        new_bucket := {QUARTER_SQL.format(instant="NEW.start_time")};
    END IF;
    IF old_bucket = new_bucket THEN
        IF NEW.capacity <> OLD.capacity OR NEW.booked_count <> OLD.booked_count THEN
            {
        upsert.format(
            bucket="new_bucket",
            capacity="NEW.capacity - OLD.capacity",
            booked="NEW.booked_count - OLD.booked_count",
        )
    }
        END IF;
        RETURN NULL;
    END IF;
    IF old_bucket IS NOT NULL THEN
        {upsert.format(bucket="old_bucket", capacity="-OLD.capacity", booked="-OLD.booked_count")}
    END IF;
    IF new_bucket IS NOT NULL THEN
        {upsert.format(bucket="new_bucket", capacity="NEW.capacity", booked="NEW.booked_count")}
    END IF;
    RETURN NULL;
"""


# Keeps slot_quarters equal to the slots' sums in the same transaction as every change; the
# analytics utilisation reads it, check_integrity verifies it.
SLOTS_ROLLUP = pgtrigger.Trigger(
    name="slots_rollup",
    when=pgtrigger.After,
    operation=pgtrigger.Insert
    | pgtrigger.Delete
    | pgtrigger.UpdateOf("start_time", "capacity", "booked_count", "status", "host_id"),
    level=pgtrigger.Row,
    declare=[
        ("writer_stripe", "integer"),
        ("old_bucket", "timestamptz"),
        ("new_bucket", "timestamptz"),
    ],
    func=_slots_rollup_sql(),
)


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
        triggers = [SLOTS_ROLLUP]
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


class SlotQuarter(models.Model):
    """The slots that are not CANCELLED, summed per 15-minute UTC bucket of start_time and
    stripe (the writing backend). Written only by the trigger slots_rollup."""

    pk = models.CompositePrimaryKey("bucket", "stripe")
    bucket = models.DateTimeField()
    stripe = models.SmallIntegerField()
    capacity = models.BigIntegerField()
    booked = models.BigIntegerField()

    class Meta:
        db_table = "slot_quarters"

    def __str__(self) -> str:
        return f"{self.bucket:%Y-%m-%d %H:%M} #{self.stripe}: {self.booked}/{self.capacity}"


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
