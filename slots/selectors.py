"""Reads of slots for the API, the admin and the commands."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import F, OuterRef, Q, QuerySet
from django.db.models.functions import JSONObject

from bookings.models import Booking, BookingStatus
from slotbooking.instants import now_ms
from slots.errors import SlotNotFoundError
from slots.models import Slot, SlotStatus


def slot_list(
    *,
    host_id: UUID | None = None,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
    status: str | None = None,
    available: bool | None = None,
) -> QuerySet[Slot]:
    """Slots of every status, filtered on their start; ordered by start, then id (SPEC §3.3.2).

    `available` True keeps the slots a booking could take now: AVAILABLE, with a free place,
    not started; False keeps all the others.
    """
    slots = Slot.objects.select_related("host")
    if host_id is not None:
        slots = slots.filter(host_id=host_id)
    if start_date is not None:
        slots = slots.filter(start_time__gte=start_date)
    if end_date is not None:
        slots = slots.filter(start_time__lte=end_date)
    if status is not None:
        slots = slots.filter(status=status)
    if available is not None:
        bookable = Q(
            status=SlotStatus.AVAILABLE, booked_count__lt=F("capacity"), start_time__gt=now_ms()
        )
        slots = slots.filter(bookable if available else ~bookable)
    return slots.order_by("start_time", "id")


def _confirmed_bookings(slot: Any) -> QuerySet[Booking]:
    """A slot's CONFIRMED bookings in creation order (`slot`: a slot id or an OuterRef)."""
    return Booking.objects.filter(slot=slot, status=BookingStatus.CONFIRMED).order_by(
        "created_at", "id"
    )


def _booking_row() -> JSONObject:
    """One confirmed booking as the host sees it: {bookingId, userId, userName}."""
    return JSONObject(bookingId="id", userId="user_id", userName="user__name")


def with_confirmed_booking(slots: QuerySet[Slot]) -> QuerySet[Slot]:
    """Annotate each slot with its CONFIRMED bookings (host views) as `confirmed_bookings`, in
    the same query: no N+1 on the host's list."""
    rows = _confirmed_bookings(OuterRef("pk")).values_list(_booking_row(), flat=True)
    return slots.annotate(confirmed_bookings=ArraySubquery(rows))


def slot_get(*, slot_id: UUID | None, viewer_id: UUID | None = None) -> Slot:
    """One slot with its host. When `viewer_id` is the slot's host, also its confirmed bookings
    (the attribute with_confirmed_booking() annotates), read only then: guests, the common
    case, never see them and pay for one plain query.

    Raises SlotNotFoundError (also for None, a path segment that is not a uuid).
    """
    slot = Slot.objects.select_related("host").filter(pk=slot_id).first() if slot_id else None
    if slot is None:
        raise SlotNotFoundError()
    if viewer_id is not None and slot.host_id == viewer_id:
        rows = _confirmed_bookings(slot.pk).values_list(_booking_row(), flat=True)
        slot.confirmed_bookings = list(rows)  # type: ignore[attr-defined]  # see docstring
    return slot
