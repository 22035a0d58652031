"""Reads of the calendar endpoints."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from uuid import UUID

from accounts.models import User
from accounts.tokens import token_hash
from bookings.models import Booking, BookingEvent, BookingStatus
from calendars.errors import CalendarNotFoundError
from calendars.models import CalendarToken
from slots.models import Slot, SlotStatus

FEED_PAST = timedelta(days=30)


def booking_sequence(*, booking_id: UUID) -> int:
    """The iCalendar SEQUENCE of a booking: its audit events minus one (0 when just created)."""
    return BookingEvent.objects.filter(booking_id=booking_id).count() - 1


def calendar_host_get(*, host_id: UUID | None, token: str | None) -> User:
    """The host whose feed `token` opens. Raises CalendarNotFoundError for an unknown host, a
    missing or wrong token, and a host who has no feed: all look alike to the caller."""
    if host_id is None or not token:
        raise CalendarNotFoundError()
    found = (
        CalendarToken.objects.select_related("host")
        .filter(host_id=host_id, token_hash=token_hash(token))
        .first()
    )
    if found is None or not found.host.is_active:
        raise CalendarNotFoundError()
    return found.host


def calendar_feed_slots(
    *, host_id: UUID, now: datetime
) -> tuple[list[Slot], dict[object, list[str]]]:
    """The host's non-cancelled slots that started at most 30 days ago or later, by start, and
    the names of each slot's confirmed guests in booking order (two queries)."""
    slots = list(
        Slot.objects.select_related("host")
        .filter(host_id=host_id, start_time__gte=now - FEED_PAST)
        .exclude(status=SlotStatus.CANCELLED)
        .order_by("start_time", "id")
    )
    guests: dict[object, list[str]] = defaultdict(list)
    confirmed = (
        Booking.objects.filter(slot__in=[slot.pk for slot in slots], status=BookingStatus.CONFIRMED)
        .order_by("created_at", "id")
        .values_list("slot_id", "user__name")
    )
    for slot_id, name in confirmed:
        guests[slot_id].append(name)
    return slots, guests
