"""Aggregates over bookings, shared by the API, the admin dashboard and `report`."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate

from bookings.models import Booking, BookingStatus
from core.day_range import DayRange
from core.db.transactions import set_statement_timeout, translate_database_error
from slots.models import Slot, SlotStatus

TOP_HOSTS = 5


@dataclass(frozen=True)
class HostCount:
    host_id: Any
    host_name: str
    booking_count: int


@dataclass(frozen=True)
class AnalyticsReport:
    range: DayRange
    total_bookings: int
    cancelled_bookings: int
    bookings_per_day: list[tuple[date, int]] = field(default_factory=list)
    top_hosts: list[HostCount] = field(default_factory=list)
    # Utilisation: slots starting in the range, not cancelled.
    published_capacity: int = 0
    booked_seats: int = 0

    @property
    def cancellation_rate(self) -> Decimal:
        return percentage(self.cancelled_bookings, self.total_bookings)

    @property
    def utilisation_rate(self) -> Decimal:
        return percentage(self.booked_seats, self.published_capacity)


def percentage(part: int, whole: int) -> Decimal:
    """part * 100 / whole, exact, rounded half-up to 2 decimals; 0 when whole is 0."""
    if whole == 0:
        return Decimal(0)
    return (Decimal(part * 100) / Decimal(whole)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def json_number(value: Decimal) -> int | float:
    """A percentage as a JSON number without trailing zeros: 25, 12.5, 33.33."""
    normal = value.normalize()
    return int(normal) if normal == normal.to_integral_value() else float(normal)


# Count per host first, then join the (few) hosts for their names: joining users per booking
# before grouping cost one index probe per booking. Ties: name in code-point order, then id.
TOP_HOSTS_SQL = """
    SELECT per_host.host_id, users.name, per_host.bookings
      FROM (SELECT slots.host_id, count(*) AS bookings
              FROM bookings JOIN slots ON slots.id = bookings.slot_id
             WHERE bookings.created_at >= %s AND bookings.created_at < %s
               AND bookings.status = 'CONFIRMED'
             GROUP BY slots.host_id) AS per_host
      JOIN users ON users.id = per_host.host_id
     ORDER BY per_host.bookings DESC, users.name COLLATE "C", per_host.host_id
     LIMIT %s
"""


def _top_hosts(day_range: DayRange) -> list[HostCount]:
    """The hosts with the most CONFIRMED bookings created in the range. Inside the report's
    transaction."""
    with connection.cursor() as cursor:
        cursor.execute(TOP_HOSTS_SQL, [day_range.lower, day_range.upper, TOP_HOSTS])
        return [HostCount(host_id, name, count) for host_id, name, count in cursor.fetchall()]


def analytics_report(*, day_range: DayRange) -> AnalyticsReport:
    """The analytics numbers for the bookings created in `day_range`, and the utilisation of
    the slots starting in it.

    Each aggregate is one query on bookings(created_at); the whole report runs in one read
    transaction bounded by ANALYTICS_STATEMENT_TIMEOUT. Raises QueryTimeoutError.
    """
    in_range = Booking.objects.filter(
        created_at__gte=day_range.lower, created_at__lt=day_range.upper
    )
    zone = zoneinfo.ZoneInfo(day_range.zone)
    try:
        with transaction.atomic():
            set_statement_timeout(settings.ANALYTICS_STATEMENT_TIMEOUT)
            # One scan of the range gives both the days and the totals: the totals are the
            # sums of the days.
            per_day = list(
                in_range.annotate(day=TruncDate("created_at", tzinfo=zone))
                .values("day")
                .annotate(
                    count=Count("id"),
                    cancelled=Count("id", filter=Q(status=BookingStatus.CANCELLED)),
                )
                .order_by("day")
            )
            top = _top_hosts(day_range)
            # booked_count is the slot's CONFIRMED bookings, kept exact by the trigger.
            seats = (
                Slot.objects.filter(start_time__gte=day_range.lower, start_time__lt=day_range.upper)
                .exclude(status=SlotStatus.CANCELLED)
                .aggregate(capacity=Sum("capacity"), booked=Sum("booked_count"))
            )
            return AnalyticsReport(
                range=day_range,
                total_bookings=sum(row["count"] for row in per_day),
                cancelled_bookings=sum(row["cancelled"] for row in per_day),
                bookings_per_day=[(row["day"], row["count"]) for row in per_day],
                top_hosts=top,
                published_capacity=seats["capacity"] or 0,
                booked_seats=seats["booked"] or 0,
            )
    except DatabaseError as exc:
        error = translate_database_error(exc)
        if error is None:
            raise
        raise error from exc
