"""`report` and utilisation (SPEC §9.1, §10.3): the same numbers as the API, from one selector."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.services import staff_create
from accounts.tests.factories import UserFactory, token_for
from bookings.services import booking_cancel, booking_create
from core.audit import EventSource
from core.db.instants import now_ms
from slots.services import slot_delete
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db


def report(*args: str) -> str:
    out = io.StringIO()
    call_command("report", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def data():
    """Today: 3 bookings (1 cancelled) on slots of capacity 1, 2, 1; one cancelled slot."""
    start = now_ms().replace(second=0, microsecond=0) + timedelta(days=1)
    slots = [
        SlotFactory.create(
            capacity=c,
            start_time=start + timedelta(hours=i),
            end_time=start + timedelta(hours=i, minutes=30),
        )
        for i, c in enumerate((1, 2, 1))
    ]
    bookings = [booking_create(user_id=UserFactory.create().pk, slot_id=s.pk) for s in slots]
    booking_cancel(
        booking_id=bookings[2].pk, actor_id=None, staff_override=True, source=EventSource.CLI
    )
    gone = SlotFactory.create(capacity=5)
    slot_delete(user_id=gone.host_id, slot_id=gone.pk)  # deleted: not published
    return slots


def test_json_report_is_exactly_the_api_data_with_utilisation(api, data):
    tomorrow = (now_ms() + timedelta(days=1)).date().isoformat()
    today = now_ms().date().isoformat()
    end = (now_ms() + timedelta(days=3)).date().isoformat()
    staff, _ = staff_create(email="ops@example.com", name="Ops")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(staff)}")
    response = api.get("/api/admin/analytics", {"start_date": today, "end_date": end})
    assert response.status_code == 200
    from_command = json.loads(report("--from", today, "--to", end, "--format", "json"))
    assert from_command == response.json()["data"]
    # slots start tomorrow or later; capacity 1 + 2 + 1 published, 2 seats booked (one cancel)
    assert from_command["utilisation"] == {"publishedCapacity": 4, "bookedSeats": 2, "rate": 50}
    assert from_command["totalBookings"] == 3
    assert from_command["cancellationRate"] == 33.33
    assert tomorrow  # the slots' days are in the range


def test_text_and_csv_reports(data):
    today = now_ms().date().isoformat()
    end = (now_ms() + timedelta(days=3)).date().isoformat()
    text = report("--from", today, "--to", end)
    assert "total bookings     3" in text
    assert "cancellation rate  33.33 %" in text
    assert "utilisation        50 % (2 of 4 places)" in text
    csv_text = report("--from", today, "--to", end, "--format", "csv")
    assert "summary,totalBookings,3" in csv_text.splitlines()
    assert "utilisation,rate,50" in csv_text.splitlines()


def test_report_rejects_a_bad_range_with_exit_code_2():
    with pytest.raises(CommandError) as failure:
        report("--from", "2026-02-01", "--to", "2026-01-01")
    assert failure.value.returncode == 2
    assert "End date must be on or after start date" in str(failure.value)
    with pytest.raises(CommandError) as failure:
        report("--from", "2026-01-01", "--to", "2026-01-02", "--tz", "Nowhere/Land")
    assert "Invalid time zone" in str(failure.value)


def test_text_report_says_what_each_count_is_based_on(data):
    today = now_ms().date().isoformat()
    end = (now_ms() + timedelta(days=3)).date().isoformat()
    text = report("--from", today, "--to", end)
    assert f"Bookings made {today} to {end} (UTC), each counted on the day it was made" in text
    assert f"Slots that start {today} to {end} (UTC), whenever they were booked" in text
    assert "Bookings per day made (days without bookings left out)" in text
    assert "Top hosts (confirmed bookings among those made in these days)" in text


def test_text_report_of_empty_days_explains_instead_of_printing_bare_headings():
    text = report("--from", "2020-01-01", "--to", "2020-01-07")
    assert "total bookings     0" in text
    assert "utilisation        no slots start in these days" in text
    assert "Bookings per day" not in text
    assert "Top hosts" not in text
    assert "No bookings were made in these days: no per-day or per-host numbers." in text
