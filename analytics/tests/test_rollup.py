"""The analytics rollups against the raw query they replace, on randomized histories.

analytics_report() reads booking_quarters, host_booking_blocks and slot_quarters (kept by the
triggers bookings_rollup and slots_rollup); analytics_report_raw() reads bookings and slots. Every
scenario mixes the real services (booking_create, booking_cancel, booking_reschedule to another
host's slot, slot_update, slot_delete) with the row changes no service makes but the triggers must
still follow (backdated createdAt and slot times, deleted bookings), then compares both reports
field by field over random day ranges in zones with 30- and 45-minute offsets, across DST changes,
and in years whose offsets are not whole quarters of an hour (the raw fallback for the days).
"""

from __future__ import annotations

import contextlib
import importlib
import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, connection, transaction

from accounts.tests.factories import HostFactory, UserFactory
from analytics.selectors import analytics_report, analytics_report_raw, days_on_quarters
from bookings.invariants import CHECKS, invariant_offenders
from bookings.models import Booking, BookingStatus
from bookings.reschedule import booking_reschedule
from bookings.services import booking_cancel, booking_create
from core.day_range import DayRange
from core.errors import DomainError
from slotbooking.tests.concurrency import run_at_once
from slots.models import Slot
from slots.services import slot_delete, slot_update
from slots.tests.factories import SlotFactory

ZONES = (
    "UTC",
    "Europe/London",
    "America/New_York",
    "Asia/Kolkata",  # +5:30; +5:21:10 before 1906
    "Asia/Kathmandu",  # +5:45
    "Australia/Eucla",  # +8:45
    "Pacific/Chatham",  # +12:45 / +13:45, DST
    "America/St_Johns",  # -3:30, DST
    "Europe/Amsterdam",  # +0:19:32 until 1937-07-01, then +0:20 until 1940
    "Pacific/Kiritimati",  # +14
)
# Instants around which the history is written: DST changes of 2026 in the zones above, and the
# years with offsets off the quarter hours.
ANCHORS = (
    datetime(2026, 3, 8, 7, tzinfo=UTC),  # New York springs forward
    datetime(2026, 3, 29, 1, tzinfo=UTC),  # London, Amsterdam
    datetime(2026, 4, 4, 14, tzinfo=UTC),  # Chatham falls back (03:45 local)
    datetime(2026, 11, 1, 6, tzinfo=UTC),  # New York, St John's fall back
    datetime(2026, 1, 15, 18, 15, tzinfo=UTC),  # Kathmandu midnight
    datetime(1937, 7, 1, tzinfo=UTC),  # Amsterdam +0:19:32 -> +0:20
    datetime(1905, 12, 31, 18, 38, 50, tzinfo=UTC),  # Kolkata +5:21:10 -> +5:30
)


def random_instant(rng: random.Random) -> datetime:
    """Near an anchor: often exactly on a local midnight or a bucket edge, or a millisecond off."""
    anchor = rng.choice(ANCHORS)
    kind = rng.random()
    if kind < 0.3:  # a local midnight of some zone, maybe a millisecond either side
        zone = ZoneInfo(rng.choice(ZONES))
        day = (anchor.astimezone(zone) + timedelta(days=rng.randint(-3, 3))).date()
        instant = datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)
        return instant + timedelta(milliseconds=rng.choice((-1, 0, 0, 1)))
    instant = anchor + timedelta(milliseconds=rng.randint(-4 * 86_400_000, 4 * 86_400_000))
    if kind < 0.5:  # on a bucket edge
        instant = instant.replace(minute=instant.minute // 15 * 15, second=0, microsecond=0)
    return instant


def random_range(rng: random.Random, zone: str) -> DayRange:
    anchor = rng.choice(ANCHORS).astimezone(ZoneInfo(zone)).date()
    start = anchor + timedelta(days=rng.randint(-5, 2))
    # Up to 100 days: ranges across the edges of host_booking_blocks' 32-day blocks too.
    days = rng.choice((0, 0, 1, 2, 6, 12, 31, 32, 33, 64, 100))
    return DayRange(start, start + timedelta(days=days), zone)


def assert_reports_equal(day_range: DayRange) -> None:
    fast, raw = analytics_report(day_range=day_range), analytics_report_raw(day_range=day_range)
    assert fast == raw, day_range


def assert_rollups_exact() -> None:
    broken = {
        check.code: offenders
        for check in CHECKS
        if check.code.startswith("R") and (offenders := invariant_offenders(check))
    }
    assert broken == {}


def build_history(rng: random.Random) -> None:
    """Hosts with tied names, slots of several capacities, bookings made, cancelled, moved to
    another host's slot, deleted, backdated; slots edited, deleted, cancelled, moved in time."""
    hosts = [HostFactory.create(name=name) for name in ("Ann", "Ann", "bob", "Émile", "Zoë")]
    guests = [UserFactory.create() for _ in range(12)]
    slots = [
        SlotFactory.create(host=rng.choice(hosts), capacity=rng.choice((1, 2, 3, 5)))
        for _ in range(24)
    ]
    bookings: list[Booking] = []
    for guest in guests:
        for slot in rng.sample(slots, 4):
            # Full, or a per-user limit: the history only needs some of them.
            with contextlib.suppress(DomainError):
                bookings.append(booking_create(user_id=guest.pk, slot_id=slot.pk))
    # Rows written without a service (no audit event), so that they can be deleted.
    for _ in range(10):
        slot = rng.choice(slots)
        slot.refresh_from_db()
        booked = set(
            slot.bookings.filter(status=BookingStatus.CONFIRMED).values_list("user", flat=True)
        )
        free = [guest for guest in guests if guest.pk not in booked]
        if slot.booked_count < slot.capacity and free:
            bookings.append(Booking.objects.create(user=rng.choice(free), slot=slot))
    for booking in rng.sample(bookings, len(bookings) // 3):
        try:
            other = rng.choice(slots)
            booking_reschedule(booking_id=booking.pk, user_id=booking.user_id, slot_id=other.pk)
        except DomainError:
            pass
    for booking in rng.sample(bookings, len(bookings) // 4):
        with contextlib.suppress(DomainError):
            booking_cancel(booking_id=booking.pk, actor_id=booking.user_id)
    for booking in bookings:
        if not booking.events.exists() and rng.random() < 0.5:
            Booking.objects.filter(pk=booking.pk).delete()
    for slot in rng.sample(slots, 6):
        try:
            slot.refresh_from_db()
            if rng.random() < 0.5:
                slot_update(slot_id=slot.pk, capacity=slot.capacity + rng.randint(0, 2))
            else:
                slot_delete(user_id=slot.host_id, slot_id=slot.pk)
        except DomainError:
            pass
    # History: createdAt and slot times moved into the past, around the anchors.
    for booking in Booking.objects.all():
        Booking.objects.filter(pk=booking.pk).update(created_at=random_instant(rng))
    for slot in Slot.objects.all():
        start = random_instant(rng)
        Slot.objects.filter(pk=slot.pk).update(
            start_time=start, end_time=start + timedelta(hours=1)
        )
    assert Booking.objects.filter(status=BookingStatus.CANCELLED).exists()
    assert Booking.objects.filter(status=BookingStatus.CONFIRMED).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rollup_report_equals_the_raw_report_in_every_zone(seed):
    rng = random.Random(seed)
    build_history(rng)
    assert_rollups_exact()
    assert_reports_equal(DayRange(date(1900, 1, 1), date(2030, 12, 31), "UTC"))
    for zone in ZONES:
        assert_reports_equal(DayRange(date(1905, 6, 1), date(1906, 6, 1), zone))
        assert_reports_equal(DayRange(date(1937, 1, 1), date(1937, 12, 31), zone))
        assert_reports_equal(DayRange(date(2026, 1, 1), date(2026, 12, 31), zone))
        for _ in range(12):
            assert_reports_equal(random_range(rng, zone))


@pytest.mark.django_db
def test_whole_buckets_answer_modern_zones_and_historic_offsets_fall_back():
    # The day boundaries are on bucket edges for today's offsets, DST days included ...
    for zone in ZONES:
        assert days_on_quarters(DayRange(date(2026, 1, 1), date(2026, 12, 31), zone))
    # ... and not under +0:19:32 / +0:20 (Amsterdam until 1940) or +5:21:10 (Kolkata to 1905).
    assert not days_on_quarters(DayRange(date(1937, 6, 20), date(1937, 7, 10), "Europe/Amsterdam"))
    assert not days_on_quarters(DayRange(date(1905, 12, 1), date(1905, 12, 31), "Asia/Kolkata"))
    assert days_on_quarters(DayRange(date(1906, 1, 2), date(1906, 1, 31), "Asia/Kolkata"))


@pytest.mark.django_db
def test_the_migration_backfill_equals_the_triggers():
    rng = random.Random(7)
    build_history(rng)
    day_range = DayRange(date(2026, 1, 1), date(2026, 12, 31), "Asia/Kathmandu")
    before = analytics_report(day_range=day_range)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE booking_quarters, host_booking_blocks, slot_quarters")
        for app, name in (
            ("slots", "0004_slot_quarters_rollup"),
            ("bookings", "0008_analytics_rollups"),
            ("bookings", "0010_host_booking_blocks"),
        ):
            migration = importlib.import_module(f"{app}.migrations.{name}").Migration
            for statement in migration.operations[-1].sql.split(";"):
                # 0008 also filled host_booking_days, which 0010 replaced.
                if statement.strip() and "host_booking_days" not in statement:
                    cursor.execute(statement)
    assert_rollups_exact()
    assert (
        analytics_report(day_range=day_range) == before == analytics_report_raw(day_range=day_range)
    )


@pytest.mark.django_db
def test_top_hosts_are_exact_on_every_day_around_a_block_edge():
    """host_booking_blocks holds 32-day blocks from 2000-01-01: bookings on each day around the
    edge of one (before 2000 too, where the day offset is negative), read over every range of
    whole days around it, in UTC and in a +5:45 zone whose days straddle two UTC days."""
    hosts = [HostFactory.create(name=name) for name in ("Ann", "Ann", "bob")]
    for edge in (date(2026, 1, 8), date(1999, 11, 30)):
        assert (edge - date(2000, 1, 1)).days % 32 == 0
        slots = [SlotFactory.create(host=host, capacity=20) for host in hosts]
        days = [edge + timedelta(days=n) for n in range(-3, 4)]
        bookings = []
        for i in range(20):  # hosts 12, 4 and 4 bookings, spread over the days
            booking = Booking.objects.create(
                user=UserFactory.create(), slot=slots[i % 3 if i < 12 else 0]
            )
            created = datetime.combine(days[i % 7], datetime.min.time(), UTC)
            Booking.objects.filter(pk=booking.pk).update(created_at=created + timedelta(hours=i))
            bookings.append(booking)
        for booking in bookings[:3]:
            booking_cancel(booking_id=booking.pk, actor_id=booking.user_id)
        Booking.objects.filter(pk__in=[b.pk for b in bookings[3:5]]).delete()
        assert_rollups_exact()
        for zone in ("UTC", "Asia/Kathmandu"):
            for start in days:
                for end in days[days.index(start) :]:
                    assert_reports_equal(DayRange(start, end, zone))


@pytest.mark.django_db
def test_a_slot_never_changes_host():
    slot = SlotFactory.create()
    with (
        pytest.raises(IntegrityError, match="host never changes"),
        transaction.atomic(),
    ):
        Slot.objects.filter(pk=slot.pk).update(host=HostFactory.create())


@pytest.mark.django_db(transaction=True)  # threads see only committed rows
def test_concurrent_bookings_and_cancellations_keep_the_rollups_exact():
    hosts = [HostFactory.create() for _ in range(2)]
    slots = [SlotFactory.create(host=hosts[i % 2], capacity=3) for i in range(8)]
    guests = [UserFactory.create() for _ in range(16)]
    early = [booking_create(user_id=guests[i].pk, slot_id=slots[i % 8].pk) for i in range(8)]

    calls = [
        (lambda g=guest, s=slots[i % 8]: booking_create(user_id=g.pk, slot_id=s.pk))
        for i, guest in enumerate(guests[8:])
    ] + [
        (lambda b=booking: booking_cancel(booking_id=b.pk, actor_id=b.user_id)) for booking in early
    ]
    attempts = run_at_once(calls)

    assert [a.error for a in attempts] == [None] * len(calls)
    assert_rollups_exact()
    today = datetime.now(UTC).date()
    for zone in ("UTC", "Asia/Kathmandu", "America/St_Johns"):
        assert_reports_equal(DayRange(today - timedelta(days=1), today + timedelta(days=1), zone))
    report = analytics_report(
        day_range=DayRange(today - timedelta(days=1), today + timedelta(days=1), "UTC")
    )
    assert (report.total_bookings, report.cancelled_bookings) == (16, 8)
