"""The only place that locks booking rows. Lock order everywhere: user → slot → booking."""

from __future__ import annotations

from uuid import UUID

from bookings.errors import BookingNotFoundError
from bookings.models import Booking
from core.db.transactions import require_transaction


def booking_lock(*, booking_id: UUID) -> Booking:
    """Lock the booking row (FOR NO KEY UPDATE) and return it as it is now.

    Inside atomic(), after slot_lock() of its slot. Raises BookingNotFoundError.
    """
    require_transaction("booking_lock()")
    booking = (
        Booking.objects.select_related("slot__host")
        .select_for_update(no_key=True, of=("self",))
        .filter(pk=booking_id)
        .first()
    )
    if booking is None:
        raise BookingNotFoundError()
    return booking
