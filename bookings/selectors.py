"""Reads of bookings for the API, the admin and the commands, and of slots with their bookings."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.db.models import OuterRef, QuerySet, Subquery

from bookings.errors import BookingNotFoundError
from bookings.models import Booking, BookingEvent, BookingStatus
from core.errors import NotOwnerError
from slots.models import Slot
from slots.selectors import slot_get

NOT_BOOKING_VIEWER = "You can only view your own bookings"


def booking_list_for_user(
    *,
    user_id: UUID,
    status: str | None = None,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
) -> QuerySet[Booking]:
    """The user's bookings as guest, newest first, `id` as tiebreak. Both date
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


def booking_get_for_viewer(*, booking_id: UUID | None, viewer_id: UUID, staff: bool) -> Booking:
    """One booking, for a caller who may see it: its guest, the slot's host, or staff.

    Raises BookingNotFoundError (also for None), then NotOwnerError for anyone else.
    """
    booking = booking_get(booking_id=booking_id)
    if viewer_id not in (booking.user_id, booking.slot.host_id) and not staff:
        raise NotOwnerError(NOT_BOOKING_VIEWER)
    return booking


def booking_event_list(*, booking_id: UUID) -> QuerySet[BookingEvent]:
    """The booking's audit events, oldest first, `id` as tiebreak."""
    return BookingEvent.objects.filter(booking_id=booking_id).order_by("created_at", "id")


def with_confirmed_booking(slots: QuerySet[Slot]) -> QuerySet[Slot]:
    """Annotate each slot with the id and guest of its CONFIRMED booking (host views), in the
    same query: no N+1 on the host's list."""
    confirmed = Booking.objects.filter(slot=OuterRef("pk"), status=BookingStatus.CONFIRMED)
    return slots.annotate(
        confirmed_booking_id=Subquery(confirmed.order_by("created_at", "id").values("id")[:1]),
        confirmed_user_id=Subquery(confirmed.order_by("created_at", "id").values("user_id")[:1]),
    )


def slot_get_for_viewer(*, slot_id: UUID | None, viewer_id: UUID | None = None) -> Slot:
    """One slot with its host. When `viewer_id` is the slot's host, also its confirmed booking
    (the attributes with_confirmed_booking() annotates), read only then: guests, the common
    case, never see it and pay for one plain query.

    Raises SlotNotFoundError (also for None, a path segment that is not a uuid).
    """
    slot = slot_get(slot_id=slot_id)
    if viewer_id is not None and slot.host_id == viewer_id:
        confirmed = (
            Booking.objects.filter(slot_id=slot.pk, status=BookingStatus.CONFIRMED)
            .order_by("created_at", "id")
            .values_list("id", "user_id")
            .first()
        )
        booking_id, user_id = confirmed or (None, None)
        slot.confirmed_booking_id = booking_id  # type: ignore[attr-defined]  # see docstring
        slot.confirmed_user_id = user_id  # type: ignore[attr-defined]
    return slot
