"""Aggregates over bookings, shared by the API, the admin dashboard and `report`.

analytics_report() answers from the rollups that triggers keep exact in the same transaction as
every booking and slot change (bookings_rollup, slots_rollup): booking_quarters and slot_quarters
per 15-minute UTC bucket, host_booking_blocks per host and block of 32 UTC days (running totals
over the block's days, so any run of whole days of a block is one row). Every modern zone offset
is a multiple of 15 minutes, so whole local days are whole buckets; the parts of the range a
bucket or a UTC day does not cover are read from bookings and slots themselves. When a day
boundary of the range is not on a bucket edge (a historic offset such as +0:19:32), the days come
from the raw query. analytics_report_raw() is that raw query for everything: the reference the
rollups equal.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate

from bookings.models import (
    BLOCK_DAYS,
    HOST_BLOCKS_TABLE,
    Booking,
    BookingQuarter,
    BookingStatus,
)
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

# The same from the rollup: the whole UTC days [first_day, end_day) from host_booking_blocks,
# one row per host and block they touch (the days first_day - block + 1 to end_day - block of
# the block: a subscript outside 1..BLOCK_DAYS is NULL, so before the block's first day it is 0),
# the parts of the range before and after them from bookings. Only the hosts with at least the
# fifth largest count can be in the top five, ties included: only they are joined to users for
# their names (one index probe each, instead of one per host with bookings).
TOP_HOSTS_ROLLUP_SQL = f"""
    WITH per_host AS (
        SELECT host_id, sum(confirmed) AS bookings
          FROM (SELECT host_id,
                       cum[least(%(end_day)s - block, {BLOCK_DAYS})]
                       - coalesce(cum[%(first_day)s - block], 0) AS confirmed
                  FROM {HOST_BLOCKS_TABLE}
                 WHERE block > %(first_day)s - {BLOCK_DAYS} AND block < %(end_day)s
                UNION ALL
                SELECT slots.host_id, 1
                  FROM bookings b JOIN slots ON slots.id = b.slot_id
                 WHERE b.status = 'CONFIRMED'
                   AND (b.created_at >= %(lower)s AND b.created_at < %(inner_lower)s
                     OR b.created_at >= %(inner_upper)s AND b.created_at < %(upper)s)
               ) AS counts
         GROUP BY host_id HAVING sum(confirmed) > 0)
    SELECT per_host.host_id, users.name, per_host.bookings
      FROM per_host JOIN users ON users.id = per_host.host_id
     WHERE per_host.bookings >= coalesce((SELECT bookings FROM per_host ORDER BY bookings DESC
                                           OFFSET %(limit)s - 1 LIMIT 1), 0)
     ORDER BY per_host.bookings DESC, users.name COLLATE "C", per_host.host_id
     LIMIT %(limit)s
"""

# Utilisation from the rollup: the whole buckets from slot_quarters, the rest from slots.
SEATS_ROLLUP_SQL = """
    SELECT coalesce(sum(capacity), 0), coalesce(sum(booked), 0)
      FROM (SELECT capacity, booked FROM slot_quarters
             WHERE bucket >= %(inner_lower)s AND bucket < %(inner_upper)s
            UNION ALL
            SELECT capacity, booked_count FROM slots
             WHERE status <> 'CANCELLED'
               AND (start_time >= %(lower)s AND start_time < %(inner_lower)s
                 OR start_time >= %(inner_upper)s AND start_time < %(upper)s)) AS seats
"""

QUARTER = timedelta(minutes=15)
DAY = timedelta(days=1)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # the origin of the buckets (date_bin in the triggers)


def _inner(lower: datetime, upper: datetime, step: timedelta) -> tuple[datetime, datetime]:
    """The largest [a, b) inside [lower, upper) made of whole `step`s from EPOCH; (upper, upper)
    when there is none."""
    a = EPOCH + -((EPOCH - lower) // step) * step  # ceiling
    b = EPOCH + ((upper - EPOCH) // step) * step  # floor
    return (a, b) if a < b else (upper, upper)


SAMPLES = 4  # offsets read per UTC day; between two that differ, the change is found exactly


def _offset(instant: datetime, zone: zoneinfo.ZoneInfo) -> timedelta:
    return instant.astimezone(zone).utcoffset() or timedelta(0)


@functools.lru_cache(maxsize=65_536)
def _utc_day_on_quarters(zone_name: str, day_ordinal: int) -> bool:
    """Whether, during this UTC day, the zone's offset is a multiple of 15 minutes and changes
    only on a bucket edge: then a local date changes only on bucket edges.

    The offset is read every 6 hours; where two readings differ, the instant of the change is
    found by bisection (to the second, the precision of the time zone database) and must be a
    bucket edge. A change and its reversal within 6 hours would go unseen: the database has
    none (DST and standard-time changes are months apart).
    """
    zone = zoneinfo.ZoneInfo(zone_name)
    start = datetime.combine(date.fromordinal(day_ordinal), datetime.min.time(), UTC)
    step = DAY / SAMPLES
    before = _offset(start, zone)
    for i in range(1, SAMPLES + 1):
        edge = start + i * step
        after = _offset(edge, zone)
        if before % QUARTER or after % QUARTER:
            return False
        if after != before:
            # Bisection in whole seconds: offset(low) == before, offset(high) == after.
            low, high = int((edge - step).timestamp()), int(edge.timestamp())
            while high - low > 1:
                middle = (low + high) // 2
                if _offset(datetime.fromtimestamp(middle, UTC), zone) == before:
                    low = middle
                else:
                    high = middle
            if high % (15 * 60):  # the change happens at `high`; EPOCH is on a bucket edge
                return False
        before = after
    return True


def days_on_quarters(day_range: DayRange) -> bool:
    """Whether every day of the range begins and ends on a bucket edge, so that the per-day
    counts can be summed from booking_quarters exactly."""
    if day_range.zone == "UTC":
        return True
    try:
        lower, upper = day_range.lower.astimezone(UTC), day_range.upper.astimezone(UTC)
        if (lower - EPOCH) % QUARTER or (upper - EPOCH) % QUARTER:
            return False
        first, last = lower.date().toordinal(), (upper - QUARTER).date().toordinal()
    except OverflowError:  # beyond year 9999 in UTC
        return False
    return all(_utc_day_on_quarters(day_range.zone, n) for n in range(first, last + 1))


def _in_report_transaction(build: Callable[[], AnalyticsReport]) -> AnalyticsReport:
    """Run `build` in one read transaction bounded by ANALYTICS_STATEMENT_TIMEOUT."""
    try:
        with transaction.atomic():
            set_statement_timeout(settings.ANALYTICS_STATEMENT_TIMEOUT)
            return build()
    except DatabaseError as exc:
        error = translate_database_error(exc)
        if error is None:
            raise
        raise error from exc


def _raw_per_day(day_range: DayRange) -> list[tuple[date, int, int]]:
    """(day, bookings, cancelled) per local day, from bookings. One scan of the range."""
    rows = (
        Booking.objects.filter(created_at__gte=day_range.lower, created_at__lt=day_range.upper)
        .annotate(day=TruncDate("created_at", tzinfo=zoneinfo.ZoneInfo(day_range.zone)))
        .values("day")
        .annotate(
            count=Count("id"), cancelled=Count("id", filter=Q(status=BookingStatus.CANCELLED))
        )
        .order_by("day")
    )
    return [(row["day"], row["count"], row["cancelled"]) for row in rows]


def _rollup_per_day(day_range: DayRange) -> list[tuple[date, int, int]]:
    """The same from booking_quarters; only when days_on_quarters(day_range). TruncDate as in
    the raw query, so the zone reaches PostgreSQL the same way."""
    rows = (
        BookingQuarter.objects.filter(bucket__gte=day_range.lower, bucket__lt=day_range.upper)
        .annotate(day=TruncDate("bucket", tzinfo=zoneinfo.ZoneInfo(day_range.zone)))
        .values("day")
        .annotate(count=Sum("total"), cancelled=Sum("cancelled"))
        .filter(count__gt=0)
        .order_by("day")
    )
    return [(row["day"], int(row["count"]), int(row["cancelled"])) for row in rows]


def _report(
    day_range: DayRange,
    per_day: list[tuple[date, int, int]],
    top: list[HostCount],
    seats: tuple[int, int],
) -> AnalyticsReport:
    return AnalyticsReport(
        range=day_range,
        total_bookings=sum(count for _, count, _ in per_day),
        cancelled_bookings=sum(cancelled for _, _, cancelled in per_day),
        bookings_per_day=[(day, count) for day, count, _ in per_day],
        top_hosts=top,
        published_capacity=seats[0],
        booked_seats=seats[1],
    )


def analytics_report_raw(*, day_range: DayRange) -> AnalyticsReport:
    """The analytics numbers straight from bookings and slots: the reference that
    analytics_report() equals, one query per aggregate on bookings(created_at) and
    slots(start_time). Raises QueryTimeoutError."""

    def build() -> AnalyticsReport:
        with connection.cursor() as cursor:
            cursor.execute(TOP_HOSTS_SQL, [day_range.lower, day_range.upper, TOP_HOSTS])
            top = [HostCount(host_id, name, count) for host_id, name, count in cursor.fetchall()]
        # booked_count is the slot's CONFIRMED bookings, kept exact by the trigger.
        seats = (
            Slot.objects.filter(start_time__gte=day_range.lower, start_time__lt=day_range.upper)
            .exclude(status=SlotStatus.CANCELLED)
            .aggregate(capacity=Sum("capacity"), booked=Sum("booked_count"))
        )
        return _report(
            day_range,
            _raw_per_day(day_range),
            top,
            (seats["capacity"] or 0, seats["booked"] or 0),
        )

    return _in_report_transaction(build)


def analytics_report(*, day_range: DayRange) -> AnalyticsReport:
    """The analytics numbers for the bookings created in `day_range`, and the utilisation of
    the slots starting in it: exactly analytics_report_raw(), read mostly from the rollups.

    Three queries in one read transaction bounded by ANALYTICS_STATEMENT_TIMEOUT. Raises
    QueryTimeoutError.
    """
    try:
        lower, upper = day_range.lower.astimezone(UTC), day_range.upper.astimezone(UTC)
    except OverflowError:  # a range that ends after year 9999 in UTC
        return analytics_report_raw(day_range=day_range)
    inner_days = _inner(lower, upper, DAY)
    inner_quarters = _inner(lower, upper, QUARTER)
    on_quarters = days_on_quarters(day_range)

    def build() -> AnalyticsReport:
        per_day = _rollup_per_day(day_range) if on_quarters else _raw_per_day(day_range)
        bounds = {"lower": lower, "upper": upper}
        with connection.cursor() as cursor:
            cursor.execute(
                TOP_HOSTS_ROLLUP_SQL,
                {
                    **bounds,
                    "inner_lower": inner_days[0],
                    "inner_upper": inner_days[1],
                    "first_day": inner_days[0].date(),
                    "end_day": inner_days[1].date(),
                    "limit": TOP_HOSTS,
                },
            )
            top = [HostCount(host_id, name, int(n)) for host_id, name, n in cursor.fetchall()]
            cursor.execute(
                SEATS_ROLLUP_SQL,
                {**bounds, "inner_lower": inner_quarters[0], "inner_upper": inner_quarters[1]},
            )
            capacity, booked = cursor.fetchone()
        return _report(day_range, per_day, top, (int(capacity), int(booked)))

    return _in_report_transaction(build)
