"""What the booking services announce through the webhook outbox, rendered on this side.

The webhooks app sits below bookings and cannot render a Booking, so the payload's `data` (the
Booking representation of the API) and the users concerned (guest and host) are built here.
"""

from __future__ import annotations

from collections.abc import Sequence

from bookings.models import Booking, WaitlistEntry
from bookings.serializers import BookingOut, HoldOut, WaitlistEntryOut
from slots.models import Slot
from slots.serializers import SlotOut
from webhooks.events import Event, emit
from webhooks.models import EventType


def booking_webhook_event(*, booking: Booking, type: EventType) -> Event:
    """The event for a change of `booking`, whose slot (with its host) is loaded."""
    return Event(
        type=type,
        data=dict(BookingOut(booking).data),
        user_ids=[booking.user_id, booking.slot.host_id],
    )


def booking_webhook_emit(*, booking: Booking, type: EventType) -> None:
    """Write the event to the outbox. Inside the service's transaction, after the change."""
    emit([booking_webhook_event(booking=booking, type=type)])


def booking_rescheduled_emit(*, booking: Booking, previous_slot: Slot) -> None:
    """booking.rescheduled: the moved booking and the slot it left, to the guest and both hosts."""
    data = {
        "booking": dict(BookingOut(booking).data),
        "previousSlot": dict(SlotOut(previous_slot).data),
    }
    users = list(dict.fromkeys([booking.user_id, booking.slot.host_id, previous_slot.host_id]))
    emit([Event(type=EventType.BOOKING_RESCHEDULED, data=data, user_ids=users)])


def waitlist_offered_emit(*, entries: Sequence[WaitlistEntry]) -> None:
    """waitlist.offered: to each user offered a place, their entry and the hold that keeps it."""
    emit(
        Event(
            type=EventType.WAITLIST_OFFERED,
            data={
                "entry": dict(WaitlistEntryOut(entry).data),
                "hold": dict(HoldOut(entry.hold).data),
            },
            user_ids=[entry.user_id],
        )
        for entry in entries
    )
