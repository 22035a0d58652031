"""Use cases of the slots app: publishing and deleting slots."""

from __future__ import annotations

import enum
from datetime import datetime
from uuid import UUID

from accounts.locks import user_lock
from bookings.models import Booking
from slotbooking.db import in_service_transaction
from slotbooking.errors import NotAHostError, NotOwnerError, ValidationFailedError
from slotbooking.instants import now_ms, truncate_ms
from slots.errors import SlotHasBookingError, SlotNotFoundError, SlotOverlapError
from slots.locks import slot_lock
from slots.models import Slot, SlotStatus
from slots.rules import slot_time_errors

SLOT_CONSTRAINTS = {"slots_no_overlap": SlotOverlapError}
NOT_SLOT_OWNER = "You can only delete your own slots"


def slot_overlaps(*, host_id: UUID, start_time: datetime, end_time: datetime) -> bool:
    """Whether a non-cancelled slot of the host overlaps [start_time, end_time)."""
    return (
        Slot.objects.filter(host_id=host_id, start_time__lt=end_time, end_time__gt=start_time)
        .exclude(status=SlotStatus.CANCELLED)
        .exists()
    )


def slot_create(
    *,
    host_id: UUID,
    start_time: datetime,
    end_time: datetime,
    capacity: int = 1,
    allow_past: bool = False,
) -> Slot:
    """Publish a slot for the host, in its own transaction.

    Locks the host's user row, so two overlapping creations by one host are decided one after the
    other (SPEC G5); the exclusion constraint slots_no_overlap stays the backstop. `allow_past`
    exists for seed_demo's one demonstration slot only.
    Raises ValidationFailedError, NotAHostError, SlotOverlapError, UserNotFoundError.
    """
    start_time, end_time = truncate_ms(start_time), truncate_ms(end_time)
    errors = slot_time_errors(
        start_time=start_time, end_time=end_time, now=now_ms(), allow_past=allow_past
    )
    if errors:
        raise ValidationFailedError(details=errors)

    def work() -> Slot:
        host = user_lock(user_id=host_id)
        if not host.is_host:
            raise NotAHostError()
        if slot_overlaps(host_id=host.pk, start_time=start_time, end_time=end_time):
            raise SlotOverlapError()
        return Slot.objects.create(
            host=host, start_time=start_time, end_time=end_time, capacity=capacity
        )

    return in_service_transaction(work, constraint_errors=SLOT_CONSTRAINTS)


class SlotDeletion(enum.Enum):
    DELETED = "deleted"  # never had a booking: the row is gone
    CANCELLED = "cancelled"  # had bookings, all cancelled: kept with its history
    UNCHANGED = "unchanged"  # was already cancelled


def slot_delete(*, user_id: UUID, slot_id: UUID) -> SlotDeletion:
    """Delete the caller's slot, or cancel it when it has booking history (SPEC §2.6, §3.3.5).

    Locks the slot row FOR UPDATE (the row may be deleted) and decides on the locked state.
    Raises SlotNotFoundError, NotOwnerError, SlotHasBookingError.
    """
    host_id = Slot.objects.filter(pk=slot_id).values_list("host_id", flat=True).first()
    if host_id is None:
        raise SlotNotFoundError()
    if host_id != user_id:
        raise NotOwnerError(NOT_SLOT_OWNER)

    def work() -> SlotDeletion:
        slot = slot_lock(slot_id=slot_id, for_delete=True)
        if slot.status == SlotStatus.CANCELLED:
            return SlotDeletion.UNCHANGED
        if slot.booked_count > 0:
            raise SlotHasBookingError()
        if Booking.objects.filter(slot_id=slot.pk).exists():
            Slot.objects.filter(pk=slot.pk).update(status=SlotStatus.CANCELLED, updated_at=now_ms())
            return SlotDeletion.CANCELLED
        slot.delete()
        return SlotDeletion.DELETED

    return in_service_transaction(work)
