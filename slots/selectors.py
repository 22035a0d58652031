"""Reads of slots for the API, the admin and the commands."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.db.models import OuterRef, QuerySet, Subquery

from bookings.models import Booking, BookingStatus
from slots.errors import SlotNotFoundError
from slots.models import Slot


def slot_list(
    *,
    host_id: UUID | None = None,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
    status: str | None = None,
) -> QuerySet[Slot]:
    """Slots of every status, filtered on their start; ordered by start, then id (SPEC §3.3.2)."""
    slots = Slot.objects.select_related("host")
    if host_id is not None:
        slots = slots.filter(host_id=host_id)
    if start_date is not None:
        slots = slots.filter(start_time__gte=start_date)
    if end_date is not None:
        slots = slots.filter(start_time__lte=end_date)
    if status is not None:
        slots = slots.filter(status=status)
    return slots.order_by("start_time", "id")


def with_confirmed_booking(slots: QuerySet[Slot]) -> QuerySet[Slot]:
    """Annotate each slot with the id and guest of its CONFIRMED booking (host views), in the
    same query: no N+1 on the host's list."""
    confirmed = Booking.objects.filter(slot=OuterRef("pk"), status=BookingStatus.CONFIRMED)
    return slots.annotate(
        confirmed_booking_id=Subquery(confirmed.order_by("created_at", "id").values("id")[:1]),
        confirmed_user_id=Subquery(confirmed.order_by("created_at", "id").values("user_id")[:1]),
    )


def slot_get(*, slot_id: UUID | None, viewer_id: UUID | None = None) -> Slot:
    """One slot with its host. When `viewer_id` is the slot's host, also its confirmed booking
    (the attributes with_confirmed_booking() annotates), read only then: guests, the common
    case, never see it and pay for one plain query.

    Raises SlotNotFoundError (also for None, a path segment that is not a uuid).
    """
    slot = Slot.objects.select_related("host").filter(pk=slot_id).first() if slot_id else None
    if slot is None:
        raise SlotNotFoundError()
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
