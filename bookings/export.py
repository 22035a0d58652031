"""The bookings CSV, shared by the admin's "Export CSV" and `export_bookings`."""

from __future__ import annotations

import csv
import io
from collections.abc import Generator, Iterable
from datetime import datetime
from uuid import UUID

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import QuerySet

from bookings.models import Booking
from core.day_range import DayRange
from core.db.instants import format_instant
from core.db.transactions import set_statement_timeout, translate_database_error

CSV_COLUMNS = (
    "bookingId",
    "status",
    "createdAt",
    "cancelledAt",
    "slotId",
    "slotStartTime",
    "slotEndTime",
    "hostId",
    "hostName",
    "hostEmail",
    "guestId",
    "guestName",
    "guestEmail",
)
# Rows fetched per round trip from the server-side cursor: memory stays flat in the row count.
CHUNK_ROWS = 2000
# A cell starting with one of these would run as a formula in a spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    if value is None:
        return ""
    text = format_instant(value) if isinstance(value, datetime) else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def booking_csv_row(booking: Booking) -> list[str]:
    slot, host, guest = booking.slot, booking.slot.host, booking.user
    values = (
        booking.pk,
        booking.status,
        booking.created_at,
        booking.cancelled_at,
        slot.pk,
        slot.start_time,
        slot.end_time,
        host.pk,
        host.name,
        host.email,
        guest.pk,
        guest.name,
        guest.email,
    )
    return [csv_cell(value) for value in values]


def booking_csv_lines(bookings: Iterable[Booking]) -> Generator[str, None, None]:
    """The header, then one RFC 4180 line (CRLF) per booking, produced lazily."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # excel dialect: quotes where needed, CRLF line ends

    def line(row: Iterable[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(row)
        return buffer.getvalue()

    yield line(CSV_COLUMNS)
    for booking in bookings:
        yield line(booking_csv_row(booking))


def booking_list_for_export(
    *,
    day_range: DayRange | None = None,
    status: str | None = None,
    host_id: UUID | None = None,
) -> QuerySet[Booking]:
    """Bookings created in `day_range` (like analytics), ordered by createdAt then id, with the
    slot, host and guest joined in: one query however many rows."""
    bookings = Booking.objects.select_related("slot__host", "user")
    if day_range is not None:
        bookings = bookings.filter(created_at__gte=day_range.lower, created_at__lt=day_range.upper)
    if status is not None:
        bookings = bookings.filter(status=status)
    if host_id is not None:
        bookings = bookings.filter(slot__host_id=host_id)
    return bookings.order_by("created_at", "id")


def booking_csv_stream(
    *,
    day_range: DayRange | None = None,
    status: str | None = None,
    host_id: UUID | None = None,
) -> Generator[str, None, None]:
    """The CSV of `booking_list_for_export(...)`, line by line: the one writer of the export,
    used by GET /api/admin/bookings.csv and `manage.py export_bookings` alike.

    Rows come from a server-side cursor CHUNK_ROWS at a time inside one read transaction,
    whose statements are bounded by ANALYTICS_STATEMENT_TIMEOUT (a timeout raises
    QueryTimeoutError). The query runs when the first line is asked for.
    """
    bookings = booking_list_for_export(day_range=day_range, status=status, host_id=host_id)
    try:
        with transaction.atomic():
            set_statement_timeout(settings.ANALYTICS_STATEMENT_TIMEOUT)
            rows = bookings.iterator(chunk_size=CHUNK_ROWS)
            lines = booking_csv_lines(rows)
            try:
                yield from lines
            finally:
                # A reader that stops early (a client hanging up) closes this generator: the
                # server-side cursor must be closed now, while its transaction still exists.
                lines.close()
                if isinstance(rows, Generator):  # QuerySet.iterator() is one
                    rows.close()
    except DatabaseError as exc:
        error = translate_database_error(exc)  # QUERY_TIMEOUT, DATABASE_UNAVAILABLE
        if error is None:
            raise
        raise error from exc
