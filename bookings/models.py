"""Bookings: a guest's place on a slot. Never deleted; cancelled instead."""

from __future__ import annotations

import uuid
from datetime import date

import pgtrigger
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from core.audit import EventSource
from core.db.instants import now_ms
from core.db.models import BaseModel
from slots.models import QUARTER_SQL, STRIPE_SQL, Slot, SlotStatus


class BookingStatus(models.TextChoices):
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"


def _sync_slot_sql() -> str:
    """The body of the trigger bookings_sync_slot.

    For every CONFIRMED booking that appears on a slot it adds 1 to the slot's booked_count, for
    every one that leaves (cancelled, deleted, or moved to another slot) it subtracts 1, and in
    the same UPDATE sets the status: BOOKED exactly when the count reaches the capacity,
    AVAILABLE below it, CANCELLED untouched. A booking beyond capacity, or confirmed on a
    cancelled slot, is then rejected by the slot's CHECKs slots_booked_within_capacity and
    slots_status_matches_count, whatever code wrote it.
    """
    slots = Slot._meta.db_table
    confirmed = BookingStatus.CONFIRMED.value
    cancelled, booked, available = (
        SlotStatus.CANCELLED.value,
        SlotStatus.BOOKED.value,
        SlotStatus.AVAILABLE.value,
    )
    return f"""
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = '{confirmed}'
       AND (TG_OP = 'DELETE' OR NEW.status <> '{confirmed}' OR NEW.slot_id <> OLD.slot_id) THEN
        UPDATE {slots}
           SET booked_count = booked_count - 1,
               status = CASE WHEN status = '{cancelled}' THEN status ELSE '{available}' END,
               updated_at = date_trunc('milliseconds', clock_timestamp())
         WHERE id = OLD.slot_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = '{confirmed}'
       AND (TG_OP = 'INSERT' OR OLD.status <> '{confirmed}' OR NEW.slot_id <> OLD.slot_id) THEN
        UPDATE {slots}
           SET booked_count = booked_count + 1,
               status = CASE
                   WHEN status = '{cancelled}' THEN status
                   WHEN booked_count + 1 >= capacity THEN '{booked}'
                   ELSE '{available}' END,
               updated_at = date_trunc('milliseconds', clock_timestamp())
         WHERE id = NEW.slot_id;
    END IF;
    RETURN NULL;
"""


# The trigger that keeps slots.booked_count equal to the slot's CONFIRMED bookings and its status
# in step. Services never write booked_count; check_integrity verifies it.
BOOKINGS_SYNC_SLOT = pgtrigger.Trigger(
    name="bookings_sync_slot",
    when=pgtrigger.After,
    operation=pgtrigger.Insert | pgtrigger.Delete | pgtrigger.UpdateOf("status", "slot_id"),
    level=pgtrigger.Row,
    func=_sync_slot_sql(),
)


# host_booking_blocks: blocks of BLOCK_DAYS UTC days from BLOCK_EPOCH (the origin of the
# 15-minute buckets too). A range of days reads at most two rows per host and block it touches.
HOST_BLOCKS_TABLE = "host_booking_blocks"
BLOCK_DAYS = 32
BLOCK_EPOCH = date(2000, 1, 1)


def _rollup_sql() -> str:
    """The body of the trigger bookings_rollup: the analytics rollups follow every booking.

    booking_quarters counts the bookings (all, and CANCELLED) per 15-minute UTC bucket of
    created_at and stripe (the writing backend); host_booking_blocks counts the CONFIRMED ones
    per host of the booking's current slot and UTC day of created_at, as running totals over
    the days of a block (HostBookingBlock). Each change subtracts the old row and adds the new
    one, in one upsert per table when the key stays the same: a cancellation is one quarter
    upsert and one host-block upsert, a reschedule to another host's slot one host-block upsert
    each way. A host-block change adds `n` to the running totals from the booking's day to the
    end of the block (the row to insert is that delta, added element by element on conflict).
    """
    confirmed, cancelled = BookingStatus.CONFIRMED.value, BookingStatus.CANCELLED.value
    slots = Slot._meta.db_table
    block = {
        "table": HOST_BLOCKS_TABLE,
        "epoch": BLOCK_EPOCH.isoformat(),
        "size": BLOCK_DAYS,
    }
    quarter = """
        INSERT INTO booking_quarters AS q (bucket, stripe, total, cancelled)
        VALUES ({bucket}, writer_stripe, {total}, {cancelled})
        ON CONFLICT (bucket, stripe) DO UPDATE
           SET total = q.total + EXCLUDED.total, cancelled = q.cancelled + EXCLUDED.cancelled;"""
    # The row exists but for a host's first booking of a block: UPDATE first, which builds no
    # row to insert (measured ~15-40 us less per booking than the upsert alone); the upsert
    # then covers the first booking, a concurrent one included.
    host_day = """
        day_at := {day};
        day_in_block := ((day_at - DATE '{epoch}') % {size} + {size}) % {size};
        UPDATE {table} AS b
           SET cum = ARRAY(SELECT x + (i > day_in_block)::integer * ({n})
                             FROM unnest(b.cum) WITH ORDINALITY AS u(x, i) ORDER BY i)
         WHERE block = day_at - day_in_block AND host_id = {host};
        IF NOT FOUND THEN
            INSERT INTO {table} AS b (block, host_id, cum)
            VALUES (day_at - day_in_block, {host},
                    array_fill(0, ARRAY[day_in_block])
                    || array_fill({n}, ARRAY[{size} - day_in_block]))
            ON CONFLICT (block, host_id) DO UPDATE
               SET cum = ARRAY(SELECT x + y
                                 FROM unnest(b.cum, EXCLUDED.cum) WITH ORDINALITY AS u(x, y, i)
                                ORDER BY i);
        END IF;"""
    return f"""
    writer_stripe := {STRIPE_SQL};
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        old_bucket := {QUARTER_SQL.format(instant="OLD.created_at")};
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        new_bucket := {QUARTER_SQL.format(instant="NEW.created_at")};
    END IF;
    IF old_bucket = new_bucket THEN
        IF NEW.status <> OLD.status THEN
            {
        quarter.format(
            bucket="new_bucket",
            total="0",
            cancelled=f"(NEW.status = '{cancelled}')::int - (OLD.status = '{cancelled}')::int",
        )
    }
        END IF;
    ELSE
        IF old_bucket IS NOT NULL THEN
            {
        quarter.format(
            bucket="old_bucket", total="-1", cancelled=f"-(OLD.status = '{cancelled}')::int"
        )
    }
        END IF;
        IF new_bucket IS NOT NULL THEN
            {
        quarter.format(
            bucket="new_bucket", total="1", cancelled=f"(NEW.status = '{cancelled}')::int"
        )
    }
        END IF;
    END IF;

    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = '{confirmed}' THEN
        SELECT host_id INTO old_host FROM {slots} WHERE id = OLD.slot_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = '{confirmed}' THEN
        IF old_host IS NOT NULL AND NEW.slot_id = OLD.slot_id THEN
            new_host := old_host;
        ELSE
            SELECT host_id INTO new_host FROM {slots} WHERE id = NEW.slot_id;
        END IF;
    END IF;
    IF old_host = new_host AND (OLD.created_at AT TIME ZONE 'UTC')::date
                               = (NEW.created_at AT TIME ZONE 'UTC')::date THEN
        RETURN NULL;
    END IF;
    IF old_host IS NOT NULL THEN
        {
        host_day.format(
            day="(OLD.created_at AT TIME ZONE 'UTC')::date", host="old_host", n="-1", **block
        )
    }
    END IF;
    IF new_host IS NOT NULL THEN
        {
        host_day.format(
            day="(NEW.created_at AT TIME ZONE 'UTC')::date", host="new_host", n="1", **block
        )
    }
    END IF;
    RETURN NULL;
"""


# Keeps the analytics rollups exact in the same transaction as every booking change (a slot's
# host never changes: slots_rollup refuses it). Per booking: one upsert per rollup.
BOOKINGS_ROLLUP = pgtrigger.Trigger(
    name="bookings_rollup",
    when=pgtrigger.After,
    operation=pgtrigger.Insert
    | pgtrigger.Delete
    | pgtrigger.UpdateOf("status", "slot_id", "created_at"),
    level=pgtrigger.Row,
    declare=[
        ("writer_stripe", "integer"),
        ("old_bucket", "timestamptz"),
        ("new_bucket", "timestamptz"),
        ("old_host", "uuid"),
        ("new_host", "uuid"),
        ("day_at", "date"),
        ("day_in_block", "integer"),
    ],
    func=_rollup_sql(),
)


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
        triggers = [BOOKINGS_SYNC_SLOT, BOOKINGS_ROLLUP]
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


class BookingQuarter(models.Model):
    """Bookings per 15-minute UTC bucket of created_at and stripe (the writing backend):
    all of them, and the CANCELLED ones. Written only by the trigger bookings_rollup."""

    pk = models.CompositePrimaryKey("bucket", "stripe")
    bucket = models.DateTimeField()
    stripe = models.SmallIntegerField()
    total = models.BigIntegerField()
    cancelled = models.BigIntegerField()

    class Meta:
        db_table = "booking_quarters"

    def __str__(self) -> str:
        return f"{self.bucket:%Y-%m-%d %H:%M} #{self.stripe}: {self.total}"


class HostBookingBlock(models.Model):
    """CONFIRMED bookings per host of their current slot and block of BLOCK_DAYS UTC days of
    created_at, as running totals: cum[i] counts the bookings of the block's first i days (1 to
    BLOCK_DAYS), so the days a to b of a block (1-based) hold cum[b] - cum[a - 1], read in one
    row. Written only by the trigger bookings_rollup; the host's concurrent bookings are
    naturally spread."""

    pk = models.CompositePrimaryKey("block", "host_id")
    block = models.DateField()  # its first day
    host_id = models.UUIDField()
    cum = ArrayField(models.IntegerField(), size=BLOCK_DAYS)

    class Meta:
        db_table = HOST_BLOCKS_TABLE

    def __str__(self) -> str:
        return f"{self.block} {self.host_id}: {self.cum[-1]}"


class EventAction(models.TextChoices):
    CREATED = "CREATED"
    CANCELLED = "CANCELLED"
    RESCHEDULED = "RESCHEDULED"


class BookingEvent(models.Model):
    """One booking state change, written in the same transaction as the change.

    Append-only: the trigger booking_events_append_only rejects UPDATE and DELETE.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(default=now_ms, editable=False)
    booking = models.ForeignKey(Booking, on_delete=models.PROTECT, related_name="events")
    action = models.CharField(max_length=16, choices=EventAction.choices)
    # Null for management commands and system tasks.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="booking_events",
    )
    source = models.CharField(max_length=8, choices=EventSource.choices)
    # DJ001: the nullable strings below are null on purpose: null means
    # "none" (no previous status, no reason, no request id or key), distinct from "".
    old_status = models.CharField(max_length=16, choices=BookingStatus.choices, null=True)  # noqa: DJ001
    new_status = models.CharField(max_length=16, choices=BookingStatus.choices)
    old_slot = models.ForeignKey(
        Slot, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    new_slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=500, null=True, blank=True)  # noqa: DJ001
    request_id = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001

    class Meta:
        db_table = "booking_events"
        indexes = [
            models.Index(fields=["booking", "created_at"], name="booking_events_booking_idx"),
            models.Index(fields=["created_at"], name="booking_events_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.booking_id} ({self.source})"


# Holds and the waitlist -------------------------------------------------------------------------
class HoldStatus(models.TextChoices):
    ACTIVE = "ACTIVE"
    CONSUMED = "CONSUMED"
    RELEASED = "RELEASED"
    EXPIRED = "EXPIRED"


def _holds_sync_slot_sql() -> str:
    """The body of the trigger holds_sync_slot: slots.held_count follows the ACTIVE holds.

    Every hold that becomes ACTIVE on a slot adds 1, every one that stops being ACTIVE (consumed,
    released, expired, deleted, moved) subtracts 1. The slot's CHECK slots_held_within_capacity
    then refuses a hold, or a booking, for which no place is left.
    """
    slots = Slot._meta.db_table
    active = HoldStatus.ACTIVE.value
    return f"""
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = '{active}'
       AND (TG_OP = 'DELETE' OR NEW.status <> '{active}' OR NEW.slot_id <> OLD.slot_id) THEN
        UPDATE {slots} SET held_count = held_count - 1 WHERE id = OLD.slot_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = '{active}'
       AND (TG_OP = 'INSERT' OR OLD.status <> '{active}' OR NEW.slot_id <> OLD.slot_id) THEN
        UPDATE {slots} SET held_count = held_count + 1 WHERE id = NEW.slot_id;
    END IF;
    RETURN NULL;
"""


HOLDS_SYNC_SLOT = pgtrigger.Trigger(
    name="holds_sync_slot",
    when=pgtrigger.After,
    operation=pgtrigger.Insert | pgtrigger.Delete | pgtrigger.UpdateOf("status", "slot_id"),
    level=pgtrigger.Row,
    func=_holds_sync_slot_sql(),
)


class Hold(BaseModel):
    """One place on a slot reserved for a user until `expires_at` (a checkout, a waitlist offer).

    Active while ACTIVE and `expires_at` is in the future: every read compares with now, so a
    lapsed hold never blocks anybody even before it is marked EXPIRED.
    """

    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="holds", db_index=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="holds", db_index=False
    )
    status = models.CharField(max_length=16, choices=HoldStatus.choices, default=HoldStatus.ACTIVE)
    expires_at = models.DateTimeField()
    # The booking made with this hold: set exactly when the hold is CONSUMED.
    booking = models.ForeignKey(
        Booking, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        db_table = "holds"
        indexes = [
            models.Index(fields=["slot", "status"], name="holds_slot_status_idx"),
            models.Index(fields=["user", "status"], name="holds_user_status_idx"),
            models.Index(
                fields=["expires_at"],
                condition=Q(status=HoldStatus.ACTIVE),
                name="holds_active_expiry_idx",
            ),
        ]
        triggers = [HOLDS_SYNC_SLOT]
        constraints = [
            models.UniqueConstraint(
                fields=["slot", "user"],
                condition=Q(status=HoldStatus.ACTIVE),
                name="holds_one_active_per_user_and_slot",
            ),
            models.CheckConstraint(
                condition=Q(status=HoldStatus.CONSUMED, booking__isnull=False)
                | (~Q(status=HoldStatus.CONSUMED) & Q(booking__isnull=True)),
                name="holds_booking_iff_consumed",
            ),
        ]

    def __str__(self) -> str:
        return f"Hold {self.pk} ({self.status})"

    def is_active(self, now: object) -> bool:
        return self.status == HoldStatus.ACTIVE and self.expires_at > now  # type: ignore[operator]


class WaitlistStatus(models.TextChoices):
    WAITING = "WAITING"
    OFFERED = "OFFERED"
    BOOKED = "BOOKED"
    EXPIRED = "EXPIRED"
    LEFT = "LEFT"


WAITLIST_OPEN = (WaitlistStatus.WAITING, WaitlistStatus.OFFERED)


class WaitlistEntry(BaseModel):
    """A user waiting for a place on a full slot; offered the next place that frees."""

    slot = models.ForeignKey(
        Slot, on_delete=models.PROTECT, related_name="waitlist_entries", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="waitlist_entries",
        db_index=False,
    )
    status = models.CharField(
        max_length=16, choices=WaitlistStatus.choices, default=WaitlistStatus.WAITING
    )
    # The offer: set while OFFERED (and kept afterwards, for the record).
    hold = models.ForeignKey(
        Hold, on_delete=models.PROTECT, null=True, blank=True, related_name="waitlist_entries"
    )

    class Meta:
        db_table = "waitlist_entries"
        indexes = [
            models.Index(
                fields=["slot", "status", "created_at", "id"], name="waitlist_slot_queue_idx"
            ),
            models.Index(fields=["user", "status"], name="waitlist_user_status_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["slot", "user"],
                condition=Q(status__in=WAITLIST_OPEN),
                name="waitlist_one_open_entry_per_user_and_slot",
            ),
            models.CheckConstraint(
                condition=~Q(status=WaitlistStatus.OFFERED) | Q(hold__isnull=False),
                name="waitlist_offer_has_hold",
            ),
        ]

    def __str__(self) -> str:
        return f"Waitlist {self.pk} ({self.status})"
