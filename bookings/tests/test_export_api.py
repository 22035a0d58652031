"""GET /api/admin/bookings.csv (SPEC §12.11): staff only, the §9.1 days, the §10.4 CSV, streamed.

Bookings are made through the services; their createdAt is then moved with the ORM, which is
test setup only: no API can backdate a booking.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.db import connection

from accounts.tests.factories import HostFactory, UserFactory
from bookings.models import Booking, BookingStatus
from bookings.services import booking_cancel, booking_create
from core.db.instants import format_instant
from slotbooking.tests.envelopes import assert_error, assert_invalid
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db

URL = "/api/admin/bookings.csv"
DAY = datetime(2026, 3, 10, 12, tzinfo=UTC)
ENUM_MESSAGE = "Invalid enum value. Expected 'CONFIRMED' | 'CANCELLED', received '{}'"
COLUMNS = [
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
]


@pytest.fixture
def staff_api(api):
    return api.as_user(UserFactory.create(is_staff=True), token=True)


def book(*, host=None, guest=None, at: datetime = DAY, cancelled: bool = False) -> Booking:
    slot = SlotFactory.create(host=host or HostFactory.create())
    guest = guest or UserFactory.create()
    booking = booking_create(user_id=guest.pk, slot_id=slot.pk)
    if cancelled:
        booking_cancel(booking_id=booking.pk, actor_id=guest.pk)
    Booking.objects.filter(pk=booking.pk).update(created_at=at)
    return Booking.objects.select_related("slot__host", "user").get(pk=booking.pk)


def export(api, **query):
    query.setdefault("start_date", "2026-03-01")
    query.setdefault("end_date", "2026-03-31")
    return api.get(URL, query)


def body(response) -> str:
    assert response.streaming
    return b"".join(response.streaming_content).decode("utf-8")


def rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body(response), newline="")))


def expected_row(booking: Booking) -> list[str]:
    slot, host, guest = booking.slot, booking.slot.host, booking.user
    return [
        str(booking.pk),
        booking.status,
        format_instant(booking.created_at),
        format_instant(booking.cancelled_at) if booking.cancelled_at else "",
        str(slot.pk),
        format_instant(slot.start_time),
        format_instant(slot.end_time),
        str(host.pk),
        host.name,
        host.email,
        str(guest.pk),
        guest.name,
        guest.email,
    ]


def test_the_csv_parses_back_to_the_bookings_of_the_range_in_created_order(staff_api):
    late = book(at=DAY.replace(hour=15))
    early = book(at=DAY.replace(hour=9), cancelled=True)
    book(at=datetime(2026, 4, 1, tzinfo=UTC))  # outside the range

    response = export(staff_api)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="bookings-2026-03-01-2026-03-31.csv"'
    )
    parsed = rows(response)
    assert parsed[0] == COLUMNS
    assert parsed[1:] == [expected_row(early), expected_row(late)]
    assert parsed[1][1] == "CANCELLED"
    assert parsed[1][3] != ""


def test_the_rows_are_exactly_the_database_rows_in_created_then_id_order(staff_api):
    made = [book(at=DAY) for _ in range(3)] + [book(at=DAY.replace(hour=13))]

    parsed = rows(export(staff_api))

    in_db = Booking.objects.select_related("slot__host", "user").order_by("created_at", "id")
    assert [row[0] for row in parsed[1:]] == [str(b.pk) for b in in_db]
    assert parsed[1:] == [expected_row(b) for b in in_db]
    assert len(parsed) == len(made) + 1


def test_lines_end_in_crlf_and_formula_cells_are_defused(staff_api):
    book(host=HostFactory.create(name="=HYPERLINK()"), guest=UserFactory.create(name="@guest"))

    text = body(export(staff_api))

    assert text.endswith("\r\n")
    assert text.count("\r\n") == 2
    row = next(iter(csv.reader(io.StringIO(text.split("\r\n", 1)[1]))))
    assert row[8] == "'=HYPERLINK()"
    assert row[11] == "'@guest"


def test_status_and_host_filter_the_rows(staff_api):
    host = HostFactory.create()
    mine = book(host=host)
    book(host=host, cancelled=True)
    book()

    parsed = rows(export(staff_api, status="CONFIRMED", hostId=str(host.pk).upper()))

    assert [row[0] for row in parsed[1:]] == [str(mine.pk)]


def test_an_empty_range_is_the_header_alone(staff_api):
    assert rows(export(staff_api)) == [COLUMNS]


def test_the_same_bytes_as_the_export_command(staff_api):
    host = HostFactory.create(name="+plus")
    for hour in (9, 10, 11):
        book(host=host, at=DAY.replace(hour=hour))
    out = io.StringIO()

    call_command(
        "export_bookings", "--from", "2026-03-01", "--to", "2026-03-31", "--host", host.email,
        stdout=out,
    )  # fmt: skip

    assert body(export(staff_api, hostId=str(host.pk))) == out.getvalue()


def test_a_time_zone_moves_the_day_boundaries_as_in_the_analytics(staff_api):
    # 23:30 UTC on the 10th is already the 11th in Berlin.
    booking = book(at=datetime(2026, 3, 10, 23, 30, tzinfo=UTC))

    utc = rows(export(staff_api, start_date="2026-03-11", end_date="2026-03-11"))
    berlin = rows(
        export(staff_api, start_date="2026-03-11", end_date="2026-03-11", tz="Europe/Berlin")
    )

    assert utc == [COLUMNS]
    assert [row[0] for row in berlin[1:]] == [str(booking.pk)]
    # Named after the days as read: a date-time input gives its day in the zone.
    named = export(
        staff_api, start_date="2026-03-10T23:30:00Z", end_date="2026-03-11", tz="Europe/Berlin"
    )
    assert named["Content-Disposition"] == (
        'attachment; filename="bookings-2026-03-11-2026-03-11.csv"'
    )
    assert len(rows(named)) == 2


# The §9.1 rules and messages ---------------------------------------------------------------------
def test_missing_dates_answer_invalid_date_at_start_date_and_end_date(staff_api):
    assert_invalid(
        staff_api.get(URL),
        [
            {"path": "startDate", "message": "Invalid date"},
            {"path": "endDate", "message": "Invalid date"},
        ],
    )


def test_field_errors_come_in_the_order_of_the_parameters(staff_api):
    response = staff_api.get(
        URL,
        {
            "start_date": "x",
            "end_date": "2026-13-01",
            "tz": "Mars/Base",
            "status": "MAYBE",
            "hostId": "1",
        },
    )

    assert_invalid(
        response,
        [
            {"path": "startDate", "message": "Invalid date"},
            {"path": "endDate", "message": "Invalid date"},
            {"path": "tz", "message": "Invalid time zone"},
            {
                "path": "status",
                "message": ENUM_MESSAGE.format("MAYBE"),
            },
            {"path": "hostId", "message": "Invalid uuid"},
        ],
    )


def test_an_end_day_before_the_start_day_answers_400(staff_api):
    assert_invalid(
        export(staff_api, start_date="2026-03-02", end_date="2026-03-01"),
        [{"path": "endDate", "message": "End date must be on or after start date"}],
    )


def test_cross_field_checks_wait_for_every_field_to_pass(staff_api):
    assert_invalid(
        export(staff_api, start_date="2026-03-02", end_date="2026-03-01", status="x"),
        [
            {
                "path": "status",
                "message": ENUM_MESSAGE.format("x"),
            }
        ],
    )


def test_the_range_is_capped_like_the_analytics(staff_api, settings):
    too_long = export(staff_api, start_date="2026-01-01", end_date="2027-01-02")
    longest = export(staff_api, start_date="2026-01-01", end_date="2027-01-01")
    settings.ANALYTICS_MAX_RANGE_DAYS = 7
    eight = export(staff_api, start_date="2026-03-01", end_date="2026-03-08")

    assert_invalid(
        too_long, [{"path": "endDate", "message": "Date range must not exceed 366 days"}]
    )
    assert longest.status_code == 200
    assert rows(longest) == [COLUMNS]
    assert_invalid(eight, [{"path": "endDate", "message": "Date range must not exceed 7 days"}])


# Access ------------------------------------------------------------------------------------------
def test_a_guest_gets_403_not_staff_before_validation(api, guest):
    assert_error(
        api.as_user(guest).get(URL), 403, "FORBIDDEN", "NOT_STAFF", "Staff access required"
    )


def test_staff_through_x_user_id_get_403_staff_token_required(api):
    staff = UserFactory.create(is_staff=True)

    assert_error(
        api.as_user(staff).get(URL),
        403,
        "FORBIDDEN",
        "STAFF_TOKEN_REQUIRED",
        "Staff access requires an API token",
    )


def test_without_credentials_401(api):
    response = api.get(URL, {"start_date": "2026-03-01", "end_date": "2026-03-02"})

    assert response.status_code == 401
    assert response.json()["error"]["reason"] == "MISSING_CREDENTIALS"


def test_only_get_is_allowed(staff_api):
    response = staff_api.post(URL)

    assert_error(response, 405, "METHOD_NOT_ALLOWED", "METHOD_NOT_ALLOWED", "Method not allowed")


def test_statuses_cover_every_booking_status(staff_api):
    book(cancelled=True)
    book()

    statuses = {row[1] for row in rows(export(staff_api))[1:]}

    assert statuses == set(BookingStatus.values)


def test_a_reader_that_stops_early_ends_the_read_transaction(staff_api):
    for hour in range(3):
        book(at=DAY.replace(hour=hour))
    response = export(staff_api)

    first = next(iter(response.streaming_content))
    response.close()  # what the server does when the client hangs up

    assert first.startswith(b"bookingId,")
    assert connection.in_atomic_block  # the test's own transaction only
    assert len(connection.savepoint_ids) == 0
