"""iCalendar files (RFC 5545) for a booking and for a host's feed, built with `icalendar`.

The library does the format: CRLF line ends, folding at 75 octets counted in bytes, TEXT escaping,
and UTC date-times written with `Z` (never floating times). We only choose the properties.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from icalendar import Calendar, Event

from bookings.models import Booking, BookingStatus
from slots.models import Slot

PRODID = "-//Slot Booking//EN"
UID_DOMAIN = "slot-booking"


def _calendar(name: str | None = None) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add("calscale", "GREGORIAN")
    if name:
        calendar.add("name", name)  # RFC 7986
        calendar.add("x-wr-calname", name)  # what Google Calendar and Outlook show
    return calendar


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def booking_ics(*, booking: Booking, sequence: int, now: datetime) -> bytes:
    """One VEVENT for the booking; `sequence` is the number of its changes (audit events minus 1).

    `booking.slot.host` must be loaded.
    """
    slot = booking.slot
    event = Event()
    event.add("uid", f"{booking.pk}@{UID_DOMAIN}")
    event.add("dtstamp", _utc(now))
    event.add("dtstart", _utc(slot.start_time))
    event.add("dtend", _utc(slot.end_time))
    event.add("summary", f"Booking with {slot.host.name}")
    cancelled = booking.status == BookingStatus.CANCELLED
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("sequence", max(sequence, 0))
    event.add("created", _utc(booking.created_at))
    event.add("last-modified", _utc(booking.updated_at))
    calendar = _calendar()
    calendar.add_component(event)
    return bytes(calendar.to_ical())


def host_feed_ics(
    *, host_name: str, slots: Iterable[Slot], guests: dict[object, list[str]], now: datetime
) -> bytes:
    """The host's feed: one VEVENT per slot, `Available` or `Booked: <guest names>`.

    `guests` maps a slot id to the names of its CONFIRMED bookings' guests, in booking order.
    """
    calendar = _calendar(f"Slot Booking: {host_name}")
    for slot in slots:
        names = guests.get(slot.pk, [])
        event = Event()
        event.add("uid", f"{slot.pk}@{UID_DOMAIN}")
        event.add("dtstamp", _utc(now))
        event.add("dtstart", _utc(slot.start_time))
        event.add("dtend", _utc(slot.end_time))
        event.add("summary", f"Booked: {', '.join(names)}" if names else "Available")
        event.add("status", "CONFIRMED")
        event.add("transp", "OPAQUE")
        event.add("created", _utc(slot.created_at))
        event.add("last-modified", _utc(slot.updated_at))
        calendar.add_component(event)
    return bytes(calendar.to_ical())
