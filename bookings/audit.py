"""The audit log: one append-only booking_events row per booking state change."""

from __future__ import annotations

from uuid import UUID

from bookings.models import Booking, BookingEvent, EventAction
from core.audit import EventSource
from core.context import current_request_id
from core.db.transactions import require_transaction

STAFF_OVERRIDE = "staff override: cancellation cutoff"
REASON_MAX_LENGTH = 500


def event_reason(*, reason: str | None, staff_override: bool) -> str | None:
    """The stored reason; a staff cancellation inside the cutoff says so."""
    if not staff_override:
        return reason or None
    if not reason:
        return STAFF_OVERRIDE
    room = REASON_MAX_LENGTH - len(STAFF_OVERRIDE) - 2
    return f"{reason[:room]}; {STAFF_OVERRIDE}"


def booking_event_record(
    *,
    booking: Booking,
    action: EventAction,
    source: EventSource,
    actor_id: UUID | None,
    old_status: str | None,
    old_slot_id: UUID | None = None,
    reason: str | None = None,
    request_id: str | None = None,
    idempotency_key: str | None = None,
) -> BookingEvent:
    """Append one event for a change of `booking` that the current transaction makes.

    Inside the service's atomic(), after the change: the event commits if and only if the
    change does. `request_id` None: the current request's, if any (core.context).
    """
    require_transaction("booking_event_record()")
    return BookingEvent.objects.create(
        booking=booking,
        action=action,
        source=source,
        actor_id=actor_id,
        old_status=old_status,
        new_status=booking.status,
        old_slot_id=old_slot_id,
        new_slot_id=booking.slot_id,
        reason=reason,
        request_id=request_id if request_id is not None else current_request_id(),
        idempotency_key=idempotency_key,
    )
