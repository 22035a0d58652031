"""Slot endpoints over HTTP (SPEC §3.3, §14 Slots): exact statuses, reasons, messages, shapes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from accounts.tests.factories import HostFactory, UserFactory
from bookings.models import Booking, BookingStatus
from bookings.services import booking_cancel, booking_create
from core.db.instants import format_instant, now_ms
from slotbooking.tests.envelopes import INSTANT, assert_error, assert_invalid
from slots.models import Slot, SlotStatus
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db

SLOT_KEYS = {
    "id",
    "hostId",
    "hostName",
    "startTime",
    "endTime",
    "capacity",
    "remaining",
    "status",
    "createdAt",
    "updatedAt",
}  # capacity and remaining: seats (SPEC §12.1)
HOST_SLOT_KEYS = SLOT_KEYS | {"bookings"}


def hours_from_now(hours: float) -> datetime:
    return now_ms().replace(second=0, microsecond=0) + timedelta(hours=hours)


def body(start: datetime, end: datetime) -> dict[str, str]:
    return {"startTime": format_instant(start), "endTime": format_instant(end)}


# POST /api/slots ---------------------------------------------------------------------------------
def test_host_creating_a_slot_tomorrow_answers_201_with_the_slot(api, host):
    start, end = hours_from_now(24), hours_from_now(25)

    response = api.as_user(host).post_json("/api/slots", body(start, end))

    assert response.status_code == 201
    data = response.json()["data"]
    assert set(data) == SLOT_KEYS
    assert data["hostId"] == str(host.pk)
    assert data["hostName"] == host.name
    assert data["status"] == "AVAILABLE"
    assert data["startTime"] == format_instant(start)
    assert data["endTime"] == format_instant(end)
    assert INSTANT.match(data["createdAt"])
    assert INSTANT.match(data["updatedAt"])
    assert Slot.objects.get(pk=data["id"]).host_id == host.pk


def test_guest_only_user_creating_a_valid_slot_answers_403_not_a_host(api, guest):
    response = api.as_user(guest).post_json(
        "/api/slots", body(hours_from_now(24), hours_from_now(25))
    )

    assert_error(response, 403, "FORBIDDEN", "NOT_A_HOST", "Only hosts can create slots")
    assert not Slot.objects.exists()


def test_guest_posting_a_past_slot_gets_the_validation_error_before_the_role_check(api, guest):
    response = api.as_user(guest).post_json(
        "/api/slots", body(hours_from_now(-1), hours_from_now(1))
    )

    assert_invalid(response, [{"path": "startTime", "message": "Start time must be in the future"}])


def test_overlapping_slot_answers_409_slot_overlap(api, host):
    api.as_user(host).post_json("/api/slots", body(hours_from_now(24), hours_from_now(25)))

    response = api.post_json("/api/slots", body(hours_from_now(24.5), hours_from_now(25.5)))

    assert_error(response, 409, "CONFLICT", "SLOT_OVERLAP", "Slot overlaps with an existing slot")
    assert Slot.objects.count() == 1


def test_touching_slot_is_created(api, host):
    api.as_user(host).post_json("/api/slots", body(hours_from_now(24), hours_from_now(25)))

    response = api.post_json("/api/slots", body(hours_from_now(25), hours_from_now(26)))

    assert response.status_code == 201
    assert Slot.objects.count() == 2


def test_slot_containing_another_answers_409_slot_overlap(api, host):
    api.as_user(host).post_json("/api/slots", body(hours_from_now(24), hours_from_now(25)))

    response = api.post_json("/api/slots", body(hours_from_now(23), hours_from_now(26)))

    assert_error(response, 409, "CONFLICT", "SLOT_OVERLAP", "Slot overlaps with an existing slot")


def test_slots_of_different_hosts_may_overlap(api, host):
    other = HostFactory.create()
    api.as_user(other).post_json("/api/slots", body(hours_from_now(24), hours_from_now(25)))

    response = api.as_user(host).post_json(
        "/api/slots", body(hours_from_now(24), hours_from_now(25))
    )

    assert response.status_code == 201


def test_a_cancelled_slot_blocks_nothing(api, host):
    SlotFactory.create(
        host=host,
        start_time=hours_from_now(24),
        end_time=hours_from_now(25),
        status=SlotStatus.CANCELLED,
    )

    response = api.as_user(host).post_json(
        "/api/slots", body(hours_from_now(24), hours_from_now(25))
    )

    assert response.status_code == 201


def test_slot_starting_an_hour_ago_answers_400_start_time_must_be_in_the_future(api, host):
    response = api.as_user(host).post_json(
        "/api/slots", body(hours_from_now(-1), hours_from_now(1))
    )

    assert_invalid(response, [{"path": "startTime", "message": "Start time must be in the future"}])


def test_slot_ending_before_it_starts_in_the_past_reports_both_cross_field_failures(api, host):
    response = api.as_user(host).post_json(
        "/api/slots", body(hours_from_now(-1), hours_from_now(-2))
    )

    assert_invalid(
        response,
        [
            {"path": "endTime", "message": "End time must be after start time"},
            {"path": "startTime", "message": "Start time must be in the future"},
        ],
    )


def test_slot_ending_when_it_starts_answers_end_time_must_be_after_start_time(api, host):
    start = hours_from_now(24)

    response = api.as_user(host).post_json("/api/slots", body(start, start))

    assert_invalid(response, [{"path": "endTime", "message": "End time must be after start time"}])


def test_slot_without_times_answers_invalid_date_for_both_fields(api, host):
    response = api.as_user(host).post_json("/api/slots", {})

    assert_invalid(
        response,
        [
            {"path": "startTime", "message": "Invalid date"},
            {"path": "endTime", "message": "Invalid date"},
        ],
    )


def test_cross_field_checks_run_only_when_every_field_passed(api, host):
    past = format_instant(hours_from_now(-5))

    response = api.as_user(host).post_json("/api/slots", {"startTime": past, "endTime": "nope"})

    assert_invalid(response, [{"path": "endTime", "message": "Invalid date"}])


def test_slot_times_given_as_epoch_milliseconds_are_accepted(api, host):
    start = hours_from_now(48)
    millis = int(start.timestamp() * 1000)

    response = api.as_user(host).post_json(
        "/api/slots", {"startTime": millis + 0.9, "endTime": millis + 3_600_000}
    )

    assert response.status_code == 201
    assert response.json()["data"]["startTime"] == format_instant(start)


# GET /api/slots ----------------------------------------------------------------------------------
def test_list_with_host_id_filter_over_two_hosts_returns_only_that_hosts_slots(api, guest):
    first, second = HostFactory.create(), HostFactory.create()
    mine = [SlotFactory.create(host=first) for _ in range(2)]
    SlotFactory.create(host=second)

    response = api.as_user(guest).get("/api/slots", {"hostId": str(first.pk)})

    assert response.status_code == 200
    payload = response.json()
    assert [s["id"] for s in payload["data"]] == [str(s.pk) for s in mine]
    assert payload["meta"] == {"page": 1, "limit": 20, "total": 2}
    assert all(set(s) == SLOT_KEYS for s in payload["data"])


def test_list_with_an_unknown_host_id_is_empty(api, guest):
    SlotFactory.create()

    response = api.as_user(guest).get(
        "/api/slots", {"hostId": "00000000-0000-4000-8000-000000000000"}
    )

    assert response.json() == {
        "success": True,
        "data": [],
        "meta": {"page": 1, "limit": 20, "total": 0},
    }


def test_list_with_an_upper_case_host_id_is_normalised(api, guest):
    slot = SlotFactory.create()

    response = api.as_user(guest).get("/api/slots", {"hostId": str(slot.host_id).upper()})

    assert [s["id"] for s in response.json()["data"]] == [str(slot.pk)]


@pytest.mark.parametrize(
    "host_id",
    [
        "nope",
        "{12345678-1234-4234-8234-123456789abc}",
        "urn:uuid:12345678-1234-4234-8234-123456789abc",
        "12345678123442348234123456789abc",
    ],
)
def test_list_with_a_host_id_that_is_not_a_uuid_answers_invalid_uuid(api, guest, host_id):
    response = api.as_user(guest).get("/api/slots", {"hostId": host_id})

    assert_invalid(response, [{"path": "hostId", "message": "Invalid uuid"}])


def test_list_includes_every_status_and_past_slots_ordered_by_start(api, guest):
    past = SlotFactory.create(start_time=hours_from_now(-5), end_time=hours_from_now(-4))
    cancelled = SlotFactory.create(status=SlotStatus.CANCELLED)
    free = SlotFactory.create()

    response = api.as_user(guest).get("/api/slots")

    ids = [s["id"] for s in response.json()["data"]]
    assert ids == [str(past.pk), str(cancelled.pk), str(free.pk)]


def test_list_filters_on_status(api, guest):
    SlotFactory.create(status=SlotStatus.CANCELLED)
    free = SlotFactory.create()

    response = api.as_user(guest).get("/api/slots", {"status": "AVAILABLE"})

    assert [s["id"] for s in response.json()["data"]] == [str(free.pk)]


def test_list_with_an_unknown_status_answers_invalid_enum_value(api, guest):
    response = api.as_user(guest).get("/api/slots", {"status": "foo"})

    assert_invalid(
        response,
        [
            {
                "path": "status",
                "message": "Invalid enum value. Expected 'AVAILABLE' | 'BOOKED' | 'CANCELLED', "
                "received 'foo'",
            }
        ],
    )


def test_list_date_filters_compare_the_slots_start_inclusively(api, guest):
    host = HostFactory.create()
    early = SlotFactory.create(
        host=host, start_time=hours_from_now(30), end_time=hours_from_now(31)
    )
    middle = SlotFactory.create(
        host=host, start_time=hours_from_now(40), end_time=hours_from_now(41)
    )
    SlotFactory.create(host=host, start_time=hours_from_now(50), end_time=hours_from_now(51))

    response = api.as_user(guest).get(
        "/api/slots",
        {
            "startDate": format_instant(early.start_time),
            "endDate": format_instant(middle.start_time),
        },
    )

    assert [s["id"] for s in response.json()["data"]] == [str(early.pk), str(middle.pk)]


def test_list_end_date_before_start_date_answers_400(api, guest):
    response = api.as_user(guest).get(
        "/api/slots", {"startDate": "2030-01-02", "endDate": "2030-01-01"}
    )

    assert_invalid(
        response, [{"path": "endDate", "message": "End date must be on or after start date"}]
    )


def test_list_date_only_filter_means_midnight_utc(api, guest):
    host = HostFactory.create()
    at_midnight = SlotFactory.create(
        host=host,
        start_time=datetime(2031, 5, 1, tzinfo=UTC),
        end_time=datetime(2031, 5, 1, 1, tzinfo=UTC),
    )
    SlotFactory.create(
        host=host,
        start_time=datetime(2031, 5, 1, 1, tzinfo=UTC),
        end_time=datetime(2031, 5, 1, 2, tzinfo=UTC),
    )

    response = api.as_user(guest).get(
        "/api/slots", {"endDate": "2031-05-01", "startDate": "2031-05-01"}
    )

    assert [s["id"] for s in response.json()["data"]] == [str(at_midnight.pk)]


def test_list_rejects_epoch_numbers_in_query_dates(api, guest):
    response = api.as_user(guest).get("/api/slots", {"startDate": "1700000000000"})

    assert_invalid(response, [{"path": "startDate", "message": "Invalid date"}])


def test_list_reports_every_failing_query_parameter_in_the_documented_order(api, guest):
    response = api.as_user(guest).get(
        "/api/slots",
        {"limit": "0", "page": "0", "status": "x", "endDate": "x", "startDate": "x", "hostId": "x"},
    )

    assert [d["path"] for d in response.json()["error"]["details"]] == [
        "hostId",
        "startDate",
        "endDate",
        "status",
        "page",
        "limit",
    ]


# GET /api/slots/host -----------------------------------------------------------------------------
def test_host_list_shows_the_confirmed_booking_and_omits_the_keys_when_there_is_none(
    api, host, guest
):
    booked = SlotFactory.create(host=host)
    free = SlotFactory.create(host=host)
    SlotFactory.create()  # another host's slot
    booking = booking_create(user_id=guest.pk, slot_id=booked.pk)

    response = api.as_user(host).get("/api/slots/host")

    data = response.json()["data"]
    assert [s["id"] for s in data] == [str(booked.pk), str(free.pk)]
    assert set(data[0]) == HOST_SLOT_KEYS | {"bookingId", "bookedByUserId"}
    assert data[0]["bookingId"] == str(booking.pk)
    assert data[0]["bookedByUserId"] == str(guest.pk)
    assert data[0]["status"] == "BOOKED"
    assert set(data[1]) == HOST_SLOT_KEYS


def test_host_list_omits_a_cancelled_booking(api, host, guest):
    slot = SlotFactory.create(host=host)
    booking = booking_create(user_id=guest.pk, slot_id=slot.pk)
    booking_cancel(booking_id=booking.pk, actor_id=guest.pk)

    response = api.as_user(host).get("/api/slots/host")

    assert set(response.json()["data"][0]) == HOST_SLOT_KEYS


def test_host_list_validates_host_id_then_ignores_it(api, host):
    mine = SlotFactory.create(host=host)
    other = SlotFactory.create()

    ignored = api.as_user(host).get("/api/slots/host", {"hostId": str(other.host_id)})
    invalid = api.get("/api/slots/host", {"hostId": "nope"})

    assert [s["id"] for s in ignored.json()["data"]] == [str(mine.pk)]
    assert_invalid(invalid, [{"path": "hostId", "message": "Invalid uuid"}])


def test_host_list_of_a_user_who_hosts_nothing_is_empty(api, guest):
    SlotFactory.create()

    response = api.as_user(guest).get("/api/slots/host")

    assert response.json() == {
        "success": True,
        "data": [],
        "meta": {"page": 1, "limit": 20, "total": 0},
    }


def test_host_list_applies_both_date_filters_and_status(api, host):
    first = SlotFactory.create(
        host=host, start_time=hours_from_now(30), end_time=hours_from_now(31)
    )
    SlotFactory.create(host=host, start_time=hours_from_now(40), end_time=hours_from_now(41))
    SlotFactory.create(
        host=host,
        start_time=hours_from_now(31),
        end_time=hours_from_now(32),
        status=SlotStatus.CANCELLED,
    )

    response = api.as_user(host).get(
        "/api/slots/host",
        {
            "startDate": format_instant(hours_from_now(29)),
            "endDate": format_instant(hours_from_now(35)),
            "status": "AVAILABLE",
        },
    )

    assert [s["id"] for s in response.json()["data"]] == [str(first.pk)]


# GET /api/slots/{id} -----------------------------------------------------------------------------
def test_get_slot_as_another_user_answers_a_plain_slot(api, guest):
    slot = SlotFactory.create()

    response = api.as_user(guest).get(f"/api/slots/{slot.pk}")

    assert response.status_code == 200
    assert set(response.json()["data"]) == SLOT_KEYS


def test_get_slot_as_its_host_answers_a_host_slot(api, host, guest):
    slot = SlotFactory.create(host=host)
    booking = booking_create(user_id=guest.pk, slot_id=slot.pk)

    response = api.as_user(host).get(f"/api/slots/{slot.pk}")

    data = response.json()["data"]
    assert data["bookingId"] == str(booking.pk)
    assert data["bookedByUserId"] == str(guest.pk)


def test_get_free_slot_as_its_host_omits_the_booking_keys(api, host):
    slot = SlotFactory.create(host=host)

    response = api.as_user(host).get(f"/api/slots/{slot.pk}")

    assert set(response.json()["data"]) == HOST_SLOT_KEYS


def test_get_cancelled_and_past_slots_are_visible(api, guest):
    cancelled = SlotFactory.create(status=SlotStatus.CANCELLED)
    past = SlotFactory.create(start_time=hours_from_now(-3), end_time=hours_from_now(-2))

    assert (
        api.as_user(guest).get(f"/api/slots/{cancelled.pk}").json()["data"]["status"] == "CANCELLED"
    )
    assert api.get(f"/api/slots/{past.pk}").status_code == 200


@pytest.mark.parametrize("slot_id", ["nope", "00000000-0000-4000-8000-000000000000", "123"])
def test_get_unknown_or_non_uuid_slot_answers_404_slot_not_found(api, guest, slot_id):
    response = api.as_user(guest).get(f"/api/slots/{slot_id}")

    assert_error(response, 404, "NOT_FOUND", "SLOT_NOT_FOUND", "Slot not found")


# DELETE /api/slots/{id} --------------------------------------------------------------------------
DELETED = {"success": True, "data": {"message": "Slot deleted successfully"}}


def test_deleting_an_own_free_slot_removes_the_row(api, host):
    slot = SlotFactory.create(host=host)

    response = api.as_user(host).delete(f"/api/slots/{slot.pk}")

    assert response.status_code == 200
    assert response.json() == DELETED
    assert not Slot.objects.filter(pk=slot.pk).exists()


def test_deleting_a_slot_with_history_cancels_it_and_keeps_the_bookings(api, host, guest):
    slot = SlotFactory.create(host=host)
    booking = booking_create(user_id=guest.pk, slot_id=slot.pk)
    booking_cancel(booking_id=booking.pk, actor_id=guest.pk)

    response = api.as_user(host).delete(f"/api/slots/{slot.pk}")

    assert response.json() == DELETED
    slot.refresh_from_db()
    assert slot.status == SlotStatus.CANCELLED
    assert Booking.objects.filter(slot=slot, status=BookingStatus.CANCELLED).count() == 1


def test_deleting_a_booked_slot_answers_409_slot_has_booking(api, host, guest):
    slot = SlotFactory.create(host=host)
    booking_create(user_id=guest.pk, slot_id=slot.pk)

    response = api.as_user(host).delete(f"/api/slots/{slot.pk}")

    assert_error(response, 409, "CONFLICT", "SLOT_HAS_BOOKING", "Cannot delete a booked slot")
    slot.refresh_from_db()
    assert slot.status == SlotStatus.BOOKED


def test_deleting_another_hosts_slot_answers_403_not_owner(api, host):
    slot = SlotFactory.create()

    response = api.as_user(host).delete(f"/api/slots/{slot.pk}")

    assert_error(response, 403, "FORBIDDEN", "NOT_OWNER", "You can only delete your own slots")
    assert Slot.objects.filter(pk=slot.pk).exists()


@pytest.mark.parametrize("slot_id", ["nope", "00000000-0000-4000-8000-000000000000"])
def test_deleting_a_missing_slot_answers_404_slot_not_found(api, host, slot_id):
    response = api.as_user(host).delete(f"/api/slots/{slot_id}")

    assert_error(response, 404, "NOT_FOUND", "SLOT_NOT_FOUND", "Slot not found")


def test_deleting_a_cancelled_slot_again_succeeds_and_changes_nothing(api, host):
    slot = SlotFactory.create(host=host, status=SlotStatus.CANCELLED)
    before = Slot.objects.get(pk=slot.pk).updated_at

    response = api.as_user(host).delete(f"/api/slots/{slot.pk}")

    assert response.json() == DELETED
    assert Slot.objects.get(pk=slot.pk).updated_at == before


def test_a_past_slot_may_be_deleted_by_a_guest_only_owner(api):
    owner = UserFactory.create()  # no HOST role: ownership is enough
    slot = SlotFactory.create(
        host=owner, start_time=hours_from_now(-3), end_time=hours_from_now(-2)
    )

    response = api.as_user(owner).delete(f"/api/slots/{slot.pk}/")

    assert response.json() == DELETED


def test_slot_endpoints_require_authentication(api):
    slot = SlotFactory.create()

    for method, path in [
        ("get", "/api/slots"),
        ("post", "/api/slots"),
        ("get", "/api/slots/host"),
        ("get", f"/api/slots/{slot.pk}"),
        ("delete", f"/api/slots/{slot.pk}"),
    ]:
        response = getattr(api, method)(path)
        assert_error(
            response, 401, "UNAUTHORIZED", "MISSING_CREDENTIALS", "Missing x-user-id header"
        )
