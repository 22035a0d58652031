"""The named success renderers of the booking endpoints: the exact answer a booking service
stores with an idempotency claim inside its transaction, the same in sync and queued mode."""

from __future__ import annotations

from bookings.serializers import BookingOut
from core.idempotency.records import SuccessRenderer

BOOKING_CREATED = SuccessRenderer(BookingOut, status=201)  # POST /api/bookings
BOOKING_CANCELLED = SuccessRenderer(BookingOut, status=200)  # DELETE /api/bookings/{id}
