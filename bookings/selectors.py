"""Reads of bookings for the API, the admin and the commands."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.db.models import QuerySet

from bookings.errors import BookingNotFoundError
from bookings.models import Booking, BookingEvent


def booking_list_for_user(
    *,
    user_id: UUID,
    status: str | None = None,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
) -> QuerySet[Booking]:
    """The user's bookings as guest, newest first, `id` as tiebreak (SPEC §3.4.2). Both date
    filters apply to the slot's start."""
    bookings = Booking.objects.select_related("slot__host").filter(user_id=user_id)
    if status is not None:
        bookings = bookings.filter(status=status)
    if start_date is not None:
        bookings = bookings.filter(slot__start_time__gte=start_date)
    if end_date is not None:
        bookings = bookings.filter(slot__start_time__lte=end_date)
    return bookings.order_by("-created_at", "-id")


def booking_get(*, booking_id: UUID | None) -> Booking:
    """One booking with its slot and host. Raises BookingNotFoundError (also for None)."""
    booking = (
        Booking.objects.select_related("slot__host").filter(pk=booking_id).first()
        if booking_id
        else None
    )
    if booking is None:
        raise BookingNotFoundError()
    return booking


def booking_event_list(*, booking_id: UUID) -> QuerySet[BookingEvent]:
    """The booking's audit events, oldest first, `id` as tiebreak (SPEC §10.6)."""
    return BookingEvent.objects.filter(booking_id=booking_id).order_by("created_at", "id")
