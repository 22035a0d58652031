"""GET /api/admin/analytics (SPEC §9.1, §14 Analytics).

Bookings are made through booking_create; their createdAt is then moved with the ORM, which is
test setup only: no API can backdate a booking.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from accounts.tests.factories import HostFactory, UserFactory
from bookings.tests.factories import BookingFactory
from slotbooking.tests.envelopes import assert_invalid

pytestmark = pytest.mark.django_db

URL = "/api/admin/analytics"
DAY = datetime(2026, 3, 10, 12, tzinfo=UTC)


@pytest.fixture
def staff_api(api):
    return api.as_user(UserFactory.create(is_staff=True), token=True)


def analytics(api, **query):
    query.setdefault("start_date", "2026-03-01")
    query.setdefault("end_date", "2026-03-31")
    return api.get(URL, query)


def test_three_bookings_in_range_are_counted(staff_api):
    for _ in range(3):
        BookingFactory.create(created_at=DAY)
    BookingFactory.create(created_at=datetime(2026, 4, 1, tzinfo=UTC))  # outside the range

    response = analytics(staff_api)

    assert response.status_code == 200
    data = response.json()["data"]
    assert list(data) == [
        "totalBookings",
        "cancellationRate",
        "bookingsPerDay",
        "topHosts",
        "utilisation",
        "range",
    ]
    assert data["totalBookings"] == 3
    assert data["cancellationRate"] == 0
    assert data["bookingsPerDay"] == [{"date": "2026-03-10", "count": 3}]
    assert data["range"] == {"startDate": "2026-03-01", "endDate": "2026-03-31", "timeZone": "UTC"}


def test_four_bookings_with_one_cancelled_give_a_rate_of_25(staff_api):
    for _ in range(3):
        BookingFactory.create(created_at=DAY)
    BookingFactory.create(created_at=DAY, cancelled=True)

    response = analytics(staff_api)

    assert response.json()["data"]["totalBookings"] == 4
    assert b'"cancellationRate":25,' in response.content


@pytest.mark.parametrize(
    ("cancelled", "total", "rate"),
    [(1, 3, b"33.33"), (2, 3, b"66.67"), (1, 8, b"12.5"), (3, 3, b"100"), (1, 6, b"16.67")],
)
def test_the_cancellation_rate_is_exact_and_rounded_half_up(staff_api, cancelled, total, rate):
    for n in range(total):
        BookingFactory.create(created_at=DAY, cancelled=n < cancelled)

    response = analytics(staff_api)

    assert b'"cancellationRate":' + rate + b"," in response.content


def test_an_empty_range_reports_zeros(staff_api):
    response = analytics(staff_api)

    assert response.json()["data"] == {
        "totalBookings": 0,
        "cancellationRate": 0,
        "bookingsPerDay": [],
        "topHosts": [],
        "utilisation": {"publishedCapacity": 0, "bookedSeats": 0, "rate": 0},
        "range": {"startDate": "2026-03-01", "endDate": "2026-03-31", "timeZone": "UTC"},
    }


def test_top_hosts_rank_confirmed_bookings_three_before_one(staff_api):
    busy, quiet = HostFactory.create(name="Zed Busy"), HostFactory.create(name="Amy Quiet")
    for _ in range(3):
        BookingFactory.create(slot__host=busy, created_at=DAY)
    BookingFactory.create(slot__host=quiet, created_at=DAY)
    BookingFactory.create(
        slot__host=quiet, created_at=DAY, cancelled=True
    )  # cancelled bookings do not count for hosts

    response = analytics(staff_api)

    assert response.json()["data"]["topHosts"] == [
        {"hostId": str(busy.pk), "hostName": "Zed Busy", "bookingCount": 3},
        {"hostId": str(quiet.pk), "hostName": "Amy Quiet", "bookingCount": 1},
    ]


def test_top_hosts_ties_are_broken_by_name_in_code_point_order_and_capped_at_five(staff_api):
    names = ["bob", "Zoe", "Amy", "amy", "Émile", "Carl"]
    hosts = {name: HostFactory.create(name=name) for name in names}
    for host in hosts.values():
        BookingFactory.create(slot__host=host, created_at=DAY)

    response = analytics(staff_api)

    top = response.json()["data"]["topHosts"]
    assert [h["hostName"] for h in top] == ["Amy", "Carl", "Zoe", "amy", "bob"]


def test_top_hosts_ties_on_name_are_broken_by_host_id(staff_api):
    twins = sorted(
        [HostFactory.create(name="Same"), HostFactory.create(name="Same")], key=lambda h: str(h.pk)
    )
    for host in reversed(twins):
        BookingFactory.create(slot__host=host, created_at=DAY)

    response = analytics(staff_api)

    assert [h["hostId"] for h in response.json()["data"]["topHosts"]] == [str(h.pk) for h in twins]


def test_missing_dates_answer_invalid_date_at_start_date_and_end_date(staff_api):
    response = staff_api.get(URL)

    assert_invalid(
        response,
        [
            {"path": "startDate", "message": "Invalid date"},
            {"path": "endDate", "message": "Invalid date"},
        ],
    )


def test_camel_case_date_parameters_are_not_read(staff_api):
    response = staff_api.get(URL, {"startDate": "2026-03-01", "endDate": "2026-03-02"})

    assert response.status_code == 400


def test_an_unknown_time_zone_answers_invalid_time_zone(staff_api):
    assert_invalid(
        analytics(staff_api, tz="Mars/Base"), [{"path": "tz", "message": "Invalid time zone"}]
    )


def test_an_end_day_before_the_start_day_answers_400(staff_api):
    response = analytics(staff_api, start_date="2026-03-02", end_date="2026-03-01")

    assert_invalid(
        response, [{"path": "endDate", "message": "End date must be on or after start date"}]
    )


def test_the_inverted_range_check_compares_days_not_instants(staff_api):
    response = analytics(
        staff_api, start_date="2026-03-01T18:00:00Z", end_date="2026-03-01T06:00:00Z"
    )

    assert response.status_code == 200
    assert response.json()["data"]["range"]["startDate"] == "2026-03-01"


def test_a_367_day_range_answers_400_and_366_days_pass(staff_api):
    too_long = analytics(staff_api, start_date="2026-01-01", end_date="2027-01-02")
    longest = analytics(staff_api, start_date="2026-01-01", end_date="2027-01-01")

    assert_invalid(
        too_long, [{"path": "endDate", "message": "Date range must not exceed 366 days"}]
    )
    assert longest.status_code == 200


def test_the_range_limit_follows_the_setting(staff_api, settings):
    settings.ANALYTICS_MAX_RANGE_DAYS = 7

    response = analytics(staff_api, start_date="2026-03-01", end_date="2026-03-08")

    assert response.json()["error"]["details"] == [
        {"path": "endDate", "message": "Date range must not exceed 7 days"}
    ]


def test_a_time_zone_moves_the_day_boundaries(staff_api):
    # 23:30 UTC on 10 March is already 11 March in Berlin (UTC+1).
    BookingFactory.create(created_at=datetime(2026, 3, 10, 23, 30, tzinfo=UTC))

    utc = analytics(staff_api, start_date="2026-03-11", end_date="2026-03-11")
    berlin = analytics(
        staff_api, start_date="2026-03-11", end_date="2026-03-11", tz="Europe/Berlin"
    )

    assert utc.json()["data"]["totalBookings"] == 0
    data = berlin.json()["data"]
    assert data["totalBookings"] == 1
    assert data["bookingsPerDay"] == [{"date": "2026-03-11", "count": 1}]
    assert data["range"] == {
        "startDate": "2026-03-11",
        "endDate": "2026-03-11",
        "timeZone": "Europe/Berlin",
    }


def test_a_date_time_input_is_read_in_the_time_zone_then_its_day_is_taken(staff_api):
    BookingFactory.create(created_at=datetime(2026, 3, 11, 12, tzinfo=UTC))

    response = analytics(
        staff_api,
        start_date="2026-03-10T23:30:00Z",  # 11 March in Berlin
        end_date="2026-03-11T00:00:00+01:00",
        tz="Europe/Berlin",
    )

    assert response.json()["data"]["range"]["startDate"] == "2026-03-11"
    assert response.json()["data"]["totalBookings"] == 1


def test_a_dst_day_is_counted_whole(staff_api):
    # 29 March 2026 lasts 23 hours in Berlin: 28 March 23:00 UTC to 29 March 22:00 UTC.
    BookingFactory.create(created_at=datetime(2026, 3, 28, 23, 0, tzinfo=UTC))
    BookingFactory.create(created_at=datetime(2026, 3, 29, 21, 59, tzinfo=UTC))
    BookingFactory.create(
        created_at=datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
    )  # already 30 March in Berlin

    response = analytics(
        staff_api, start_date="2026-03-29", end_date="2026-03-29", tz="Europe/Berlin"
    )

    assert response.json()["data"]["totalBookings"] == 2


def test_bookings_per_day_lists_only_days_with_bookings_ascending(staff_api):
    BookingFactory.create(created_at=datetime(2026, 3, 12, tzinfo=UTC))
    BookingFactory.create(created_at=datetime(2026, 3, 2, tzinfo=UTC), cancelled=True)
    BookingFactory.create(created_at=datetime(2026, 3, 12, 23, 59, tzinfo=UTC))

    response = analytics(staff_api)

    assert response.json()["data"]["bookingsPerDay"] == [
        {"date": "2026-03-02", "count": 1},
        {"date": "2026-03-12", "count": 2},
    ]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01", "0001-01-01"),
        ("9999-12-31", "9999-12-31"),
    ],
)
def test_dates_at_the_edges_of_the_calendar_do_not_crash(staff_api, start, end):
    response = analytics(staff_api, start_date=start, end_date=end, tz="Pacific/Kiritimati")

    assert response.status_code == 200, response.content
    assert response.json()["data"]["totalBookings"] == 0


def test_analytics_is_staff_only_and_checks_staff_before_the_query(api, guest):
    response = api.as_user(guest, token=True).get(URL)

    assert response.status_code == 403
    assert response.json()["error"]["reason"] == "NOT_STAFF"


def test_an_instant_whose_day_in_the_zone_is_past_year_9999_is_an_invalid_date(staff_api):
    response = analytics(
        staff_api, start_date="9999-12-31T23:59Z", end_date="9999-12-31", tz="Pacific/Kiritimati"
    )

    assert_invalid(response, [{"path": "startDate", "message": "Invalid date"}])
