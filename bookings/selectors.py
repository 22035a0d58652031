"""Reads of bookings for the API, the admin and the commands, and of slots with their bookings."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from typing import Any
from uuid import UUID

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import OuterRef, QuerySet
from django.db.models.functions import JSONObject

from bookings.errors import BookingNotFoundError
from bookings.models import Booking, BookingEvent, BookingStatus
from core.db.instants import now_ms
from core.errors import NotOwnerError
from slots.errors import SlotNotFoundError
from slots.models import Slot
from slots.selectors import SlotRow, slot_get, slot_row_sql

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


def slot_get_for_viewer(*, slot_id: UUID | None, viewer_id: UUID | None = None) -> Slot:
    """One slot with its host. When `viewer_id` is the slot's host, also its confirmed bookings
    (the attribute with_confirmed_booking() annotates), read only then: guests, the common
    case, never see them and pay for one plain query.

    Raises SlotNotFoundError (also for None, a path segment that is not a uuid).
    """
    slot = slot_get(slot_id=slot_id)
    if viewer_id is not None and slot.host_id == viewer_id:
        rows = _confirmed_bookings(slot.pk).values_list(_booking_row(), flat=True)
        slot.confirmed_bookings = list(rows)  # type: ignore[attr-defined]  # see docstring
    return slot


def slot_row_for_viewer(
    *, slot_id: UUID | None, viewer_id: UUID
) -> tuple[SlotRow, list[dict[str, str]] | None]:
    """slot_get_for_viewer() in one query, for GET /api/slots/{id}: the slot as a SlotRow and,
    when `viewer_id` is its host, its confirmed bookings {bookingId, userId, userName} in
    creation order (None for anyone else, who never sees them).

    Raises SlotNotFoundError (also for None, a path segment that is not a uuid).
    """
    row = None
    if slot_id is not None:
        with connection.cursor() as cursor:
            params: dict[str, Any] = {"now": now_ms(), "slot": slot_id, "viewer": viewer_id}
            cursor.execute(_slot_for_viewer_sql(), params)
            row = cursor.fetchone()
    if row is None:
        raise SlotNotFoundError()
    bookings = row[-1]
    # The bookings arrive as json text (see the SQL), decoded here.
    confirmed = None if bookings is None else [json.loads(item) for item in bookings]
    return SlotRow._make(row[:-1]), confirmed


@cache
def _slot_for_viewer_sql() -> str:
    # Each booking as json text, its keys in the order the API shows them (json keeps the order
    # it is given; jsonb would sort them).
    booking = "json_build_object('bookingId', b.id, 'userId', b.user_id, 'userName', bu.name)"
    return f"""
        SELECT {slot_row_sql()},
               CASE WHEN s.host_id = %(viewer)s THEN ARRAY(
                   SELECT {booking}::text
                     FROM bookings b JOIN users bu ON bu.id = b.user_id
                    WHERE b.slot_id = s.id AND b.status = '{BookingStatus.CONFIRMED.value}'
                    ORDER BY b.created_at, b.id) END
          FROM slots s JOIN users u ON u.id = s.host_id
         WHERE s.id = %(slot)s"""
