"""What the booking services announce through the webhook outbox, rendered on this side.

The webhooks app sits below bookings and cannot render a Booking, so the payload's `data` (the
Booking representation of the API) and the users concerned (guest and host) are built here.
"""

from __future__ import annotations

from bookings.models import Booking
from bookings.serializers import BookingOut
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
