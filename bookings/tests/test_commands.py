"""The operator commands (SPEC §10.3): check_integrity, export_bookings, seed_demo, create_slots."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from accounts.tests.factories import HostFactory, UserFactory
from bookings.models import BOOKINGS_SYNC_SLOT, Booking, BookingEvent
from bookings.services import booking_cancel, booking_create
from bookings.tests.invariants import assert_booking_invariants
from core.audit import EventSource
from core.db.instants import format_instant, now_ms
from slots.models import Slot, SlotEvent
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def fails(code: int, *args: str) -> str:
    with pytest.raises(CommandError) as failure:
        run(*args)
    assert failure.value.returncode == code
    return str(failure.value)


# check_integrity ---------------------------------------------------------------------------------
def test_check_integrity_passes_on_consistent_data(guest):
    booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    out, _ = run("check_integrity")
    assert "0 breach(es)" in out


def test_check_integrity_finds_a_breach_planted_with_raw_sql(guest):
    slot = SlotFactory.create()
    with connection.cursor() as cursor:
        # Bypass the trigger bookings_sync_slot inside this test's transaction only (the
        # rollback at the end restores it): a CONFIRMED booking that booked_count misses.
        # Its name in PostgreSQL. pgtrigger passes the model class here too; its hint says Model.
        trigger = BOOKINGS_SYNC_SLOT.get_pgid(Booking)  # type: ignore[arg-type]
        cursor.execute(f"ALTER TABLE bookings DISABLE TRIGGER {trigger}")
        cursor.execute(
            """INSERT INTO bookings (id, slot_id, user_id, status, created_at, updated_at)
               VALUES (gen_random_uuid(), %s, %s, 'CONFIRMED', now(), now())""",
            [slot.pk, guest.pk],
        )
    out = io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("check_integrity", stdout=out)
    assert failure.value.returncode == 1
    lines = out.getvalue().splitlines()
    assert (
        f"BREACH I4 booked_count equals the slot's CONFIRMED bookings: slotId={slot.pk} "
        "bookedCount=0 confirmed=1" in lines
    )
    assert any(line.startswith("BREACH I6") and str(slot.pk) in line for line in lines)

    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_integrity", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["ok"] is False
    assert {b["check"] for b in report["breaches"]} == {"I4", "I6"}


def test_users_above_todays_limit_are_warnings_only(settings, guest):
    for _ in range(2):
        booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    settings.MAX_ACTIVE_BOOKINGS = 1  # the limit was lowered after they booked
    out, _ = run("check_integrity")
    assert "WARNING W1" in out
    assert str(guest.pk) in out
    assert "0 breach(es), 1 warning(s)" in out


# export_bookings ---------------------------------------------------------------------------------
def test_export_bookings_writes_the_spec_csv_filtered_and_formula_safe(tmp_path):
    host = HostFactory.create(name="+host")
    guest = UserFactory.create(name="-guest")
    first = booking_create(user_id=guest.pk, slot_id=SlotFactory.create(host=host).pk)
    other = booking_create(user_id=UserFactory.create().pk, slot_id=SlotFactory.create().pk)
    booking_cancel(booking_id=other.pk, actor_id=None, staff_override=True, source=EventSource.CLI)

    out, _ = run("export_bookings")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0][0] == "bookingId"
    assert [row[0] for row in rows[1:]] == [str(first.pk), str(other.pk)]
    assert "\r\n" in out

    target = tmp_path / "out.csv"
    today = now_ms().date().isoformat()
    _, err = run(
        "export_bookings", "--from", today, "--to", today, "--status", "CONFIRMED",
        "--host", host.email, "--output", str(target),
    )  # fmt: skip
    rows = list(csv.reader(target.open(newline="")))
    assert len(rows) == 2
    assert rows[1][:4] == [str(first.pk), "CONFIRMED", format_instant(first.created_at), ""]
    assert rows[1][8] == "'+host"
    assert rows[1][11] == "'-guest"
    assert "1 booking(s) written" in err


def test_export_bookings_usage_errors_exit_2():
    assert "--from and --to go together" in fails(2, "export_bookings", "--from", "2026-01-01")
    assert "End date must be on or after start date" in fails(
        2, "export_bookings", "--from", "2026-02-01", "--to", "2026-01-01"
    )
    assert "no user" in fails(2, "export_bookings", "--host", "nobody@example.com")


# seed_demo -------------------------------------------------------------------------------------
def test_seed_demo_with_history_twice_creates_no_duplicates():
    out, _ = run("seed_demo", "--bookings", "40", "--days", "20")
    assert "40 bookings created" in out
    counts = (Slot.objects.count(), Booking.objects.count(), BookingEvent.objects.count())
    past = Booking.objects.filter(slot__start_time__lt=now_ms())
    assert past.count() == 40
    assert past.filter(status="CANCELLED").exists()
    assert all(b.created_at < b.slot.start_time for b in past.select_related("slot"))
    assert set(BookingEvent.objects.values_list("source", flat=True)) == {"cli"}
    assert_booking_invariants()
    run("check_integrity")

    out, _ = run("seed_demo", "--bookings", "40", "--days", "20")
    assert "0 users and 0 slots created" in out
    assert "0 bookings created" in out
    assert (Slot.objects.count(), Booking.objects.count(), BookingEvent.objects.count()) == counts


# create_slots ------------------------------------------------------------------------------------
def test_create_slots_in_berlin_skips_the_spring_gap_and_takes_the_first_fall_back_time():
    HostFactory.create(email="berlin@example.com", timezone="Europe/Berlin")
    year = now_ms().year + 1
    # The last Sundays of March and October of next year: the DST switches in Berlin.
    march = max(date(year, 3, d) for d in range(25, 32) if date(year, 3, d).weekday() == 6)
    october = max(date(year, 10, d) for d in range(25, 32) if date(year, 10, d).weekday() == 6)
    out, _ = run(
        "create_slots", "--host", "berlin@example.com", "--from", march.isoformat(),
        "--to", march.isoformat(), "--weekdays", "SUN", "--times", "01:30,02:30,03:30",
        "--duration", "30",
    )  # fmt: skip
    gap = f"{march}T01:30:00.000Z ({march} 02:30 Europe/Berlin): NONEXISTENT_LOCAL_TIME"
    assert f"skipped  {gap}" in out.splitlines()
    assert "2 created, 1 skipped" in out
    # The host's wall clock first, like the admin's preview, then the instants.
    assert f"created  {march} 01:30 CET → 03:00 CEST  ({march}T00:30:00.000Z" in out
    assert f"created  {march} 03:30 CEST → 04:00 CEST  ({march}T01:30:00.000Z" in out
    assert out.rstrip().endswith("; local times in Europe/Berlin")

    out, _ = run(
        "create_slots", "--host", "berlin@example.com", "--from", october.isoformat(),
        "--to", october.isoformat(), "--weekdays", "SUN", "--times", "02:30", "--duration", "60",
    )  # fmt: skip
    assert f"({october}T00:30:00.000Z → {october}T01:30:00.000Z)" in out  # CEST, first
    assert f"created  {october} 02:30 CEST → 02:30 CET" in out
    assert SlotEvent.objects.filter(source="cli", actor=None).count() == 3


def test_create_slots_conflict_exits_1_unless_skipped_and_dry_run_writes_nothing():
    host = HostFactory.create()
    day = now_ms().date() + timedelta(days=3)
    weekday = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")[day.weekday()]
    args = ["create_slots", "--host", str(host.pk), "--from", day.isoformat(), "--to",
            (day + timedelta(days=6)).isoformat(), "--weekdays", weekday, "--times", "10:00",
            "--duration", "60", "--tz", "UTC"]  # fmt: skip
    out, _ = run(*args, "--dry-run")
    assert "1 planned, 0 skipped (dry run: nothing written); local times in UTC" in out
    assert f"planned  {day} 10:00 UTC → 11:00 UTC  ({day}T10:00:00.000Z" in out
    assert not Slot.objects.filter(host=host).exists()
    run(*args)
    assert Slot.objects.filter(host=host).count() == 1
    assert "nothing created" in fails(1, *args)
    out, _ = run(*args, "--skip-conflicts")
    assert "0 created, 1 skipped" in out
    assert "SLOT_OVERLAP" in out
    assert "Rule produces overlapping slots" in fails(
        2, *args[:-4], "--times", "10:00,10:30", "--duration", "60"
    )
