"""Reschedule: move a booking to another slot in one transaction, keeping its id and createdAt."""

from __future__ import annotations

import time
from datetime import timedelta
from uuid import UUID

from django.conf import settings

from accounts.locks import user_lock
from accounts.policies import duration_text, host_policy_get
from bookings.audit import booking_event_record
from bookings.errors import (
    BookingAlreadyCancelledError,
    BookingNotFoundError,
    RescheduleSameSlotError,
    RescheduleWindowClosedError,
)
from bookings.locks import booking_lock
from bookings.models import Booking, BookingStatus, EventAction
from bookings.places import guest_booked, places_settle, places_settle_if_lapsed
from bookings.services import (
    BOOKING_CONSTRAINTS,
    MISSING_REFERENCES,
    check_bookable,
    hold_consume,
    hold_lock_for_booking,
)
from bookings.webhooks import booking_rescheduled_emit
from core.audit import EventSource
from core.db.instants import now_ms
from core.db.transactions import in_service_transaction, require_transaction
from core.errors import NotOwnerError
from core.idempotency.records import IdempotencyClaim, idempotency_complete, idempotency_lock
from slots.errors import SlotNotFoundError
from slots.models import Slot

NOT_BOOKING_GUEST = "You can only reschedule your own bookings"


def _lock_slots(slot_ids: list[UUID]) -> dict[UUID, Slot]:
    """Lock several slot rows in ascending id order, in one statement (the lock order)."""
    require_transaction("_lock_slots()")
    rows = (
        Slot.objects.select_related("host")
        .select_for_update(no_key=True, of=("self",))
        .filter(pk__in=slot_ids)
        .order_by("id")
    )
    return {slot.pk: slot for slot in rows}


def booking_reschedule(
    *,
    booking_id: UUID,
    user_id: UUID,
    slot_id: UUID,
    hold_id: UUID | None = None,
    source: EventSource = EventSource.API,
    request_id: str | None = None,
    idempotency_key: str | None = None,
    idempotency: IdempotencyClaim | None = None,
) -> Booking:
    """Move the caller's booking to `slot_id` atomically: same id, same createdAt.

    One transaction locks the user row, both slot rows in ascending id order, then the booking.
    The new slot passes every booking check with this booking left out of the caller's counts
    (with `hold_id`, the caller's hold on the new slot is its place and is CONSUMED). The trigger
    moves the count; the old slot's freed place goes to its waitlist; the audit event
    RESCHEDULED names both slots. Any failure changes nothing.
    Raises BookingNotFoundError, NotOwnerError, SlotNotFoundError, BookingAlreadyCancelledError,
    RescheduleSameSlotError, RescheduleWindowClosedError, the hold checks' errors and the
    booking checks' errors, LockTimeoutError.
    """
    found = Booking.objects.filter(pk=booking_id).values("slot_id", "user_id").first()
    if found is None:
        raise BookingNotFoundError()
    if found["user_id"] != user_id:
        raise NotOwnerError(NOT_BOOKING_GUEST)

    def work() -> Booking:
        key = idempotency_key
        if idempotency is not None:
            key = idempotency_lock(claim=idempotency).key
        user = user_lock(user_id=user_id)
        # Only the guest moves a booking, under this user lock: its slot read now stays put.
        old_slot_id = Booking.objects.values_list("slot_id", flat=True).get(pk=booking_id)
        slots = _lock_slots(sorted({old_slot_id, slot_id}))
        if slot_id not in slots:
            raise SlotNotFoundError()
        booking = booking_lock(booking_id=booking_id)
        old_slot, new_slot = slots[booking.slot_id], slots[slot_id]
        if booking.status == BookingStatus.CANCELLED:
            raise BookingAlreadyCancelledError()
        if booking.slot_id == slot_id:
            raise RescheduleSameSlotError()
        now = now_ms()
        cutoff = host_policy_get(host_id=old_slot.host_id).cancellation_cutoff_minutes
        if old_slot.start_time - now < timedelta(minutes=cutoff) or old_slot.start_time <= now:
            raise RescheduleWindowClosedError(d=duration_text(cutoff))
        places_settle_if_lapsed(slot=new_slot, now=now)
        hold = None
        if hold_id is not None:
            hold = hold_lock_for_booking(hold_id=hold_id, user_id=user.pk, slot=new_slot, now=now)
        check_bookable(
            user_id=user.pk,
            slot_id=new_slot.pk,
            now=now,
            own_hold=hold is not None,
            moving_id=booking.pk,
        )
        if settings.BOOKING_TEST_DELAY_BEFORE_WRITE:
            time.sleep(settings.BOOKING_TEST_DELAY_BEFORE_WRITE)
        if hold is not None:
            hold_consume(hold=hold, booking_id=booking.pk, now=now)
        booking.slot = new_slot
        booking.save(update_fields=["slot"])  # the trigger moves the count; createdAt is kept
        guest_booked(slot=new_slot, user_id=user.pk, now=now, used_hold=hold is not None)
        places_settle(old_slot, now)  # the place freed on the old slot goes to its waitlist
        new_slot.refresh_from_db(fields=["status", "booked_count", "held_count", "updated_at"])
        booking_event_record(
            booking=booking,
            action=EventAction.RESCHEDULED,
            source=source,
            actor_id=user_id,
            old_status=BookingStatus.CONFIRMED,
            old_slot_id=old_slot.pk,
            request_id=request_id,
            idempotency_key=key,
        )
        old_slot.refresh_from_db(fields=["status", "booked_count", "held_count", "updated_at"])
        booking_rescheduled_emit(booking=booking, previous_slot=old_slot)
        if idempotency is not None:
            idempotency_complete(claim=idempotency, result=booking)
        return booking

    return in_service_transaction(
        work, constraint_errors=BOOKING_CONSTRAINTS, missing_reference_errors=MISSING_REFERENCES
    )
