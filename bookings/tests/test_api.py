"""Booking endpoints over HTTP (SPEC §3.4, §14 Bookings): exact statuses, reasons, messages."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from accounts.tests.factories import HostFactory, UserFactory
from bookings.models import Booking, BookingStatus
from bookings.services import booking_cancel, booking_create
from core.db.instants import format_instant, now_ms
from slotbooking.tests.envelopes import INSTANT, assert_error, assert_invalid
from slots.models import Slot, SlotStatus
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db

BOOKING_KEYS = {"id", "slotId", "userId", "status", "cancelledAt", "slot", "createdAt", "updatedAt"}
EMBEDDED_SLOT_KEYS = {"id", "hostId", "hostName", "startTime", "endTime", "status"}


def from_now(**delta: float) -> datetime:
    return now_ms() + timedelta(**delta)


def cancel(booking: Booking) -> Booking:
    return booking_cancel(booking_id=booking.pk, actor_id=booking.user_id)


# POST /api/bookings ------------------------------------------------------------------------------
def test_guest_booking_a_hosts_slot_answers_201_confirmed_with_the_slot_booked(api, guest):
    slot = SlotFactory.create()

    response = api.as_user(guest).post_json("/api/bookings", {"slotId": str(slot.pk)})

    assert response.status_code == 201, response.content
    data = response.json()["data"]
    assert set(data) == BOOKING_KEYS
    assert set(data["slot"]) == EMBEDDED_SLOT_KEYS
    assert data["status"] == "CONFIRMED"
    assert data["cancelledAt"] is None
    assert data["slotId"] == str(slot.pk)
    assert data["userId"] == str(guest.pk)
    assert data["slot"] == {
        "id": str(slot.pk),
        "hostId": str(slot.host_id),
        "hostName": slot.host.name,
        "startTime": format_instant(slot.start_time),
        "endTime": format_instant(slot.end_time),
        "status": "BOOKED",
    }
    assert INSTANT.match(data["createdAt"])
    assert Slot.objects.get(pk=slot.pk).status == SlotStatus.BOOKED


def test_a_host_only_user_may_book_another_hosts_slot(api):
    booker = UserFactory.create(roles=["HOST"])
    slot = SlotFactory.create()

    response = api.as_user(booker).post_json("/api/bookings", {"slotId": str(slot.pk)})

    assert response.status_code == 201


def test_host_booking_own_slot_answers_400_booking_own_slot(api, host):
    slot = SlotFactory.create(host=host)

    response = api.as_user(host).post_json("/api/bookings", {"slotId": str(slot.pk)})

    assert_error(response, 400, "BAD_REQUEST", "BOOKING_OWN_SLOT", "You cannot book your own slot")
    assert not Booking.objects.exists()


def test_booking_a_past_slot_answers_400_slot_in_past(api, guest):
    slot = SlotFactory.create(start_time=from_now(hours=-3), end_time=from_now(hours=-2))

    response = api.as_user(guest).post_json("/api/bookings", {"slotId": str(slot.pk)})

    assert_error(response, 400, "BAD_REQUEST", "SLOT_IN_PAST", "Cannot book a slot in the past")


def test_booking_a_slot_that_has_started_but_not_ended_answers_400_slot_in_past(api, guest):
    slot = SlotFactory.create(start_time=from_now(minutes=-5), end_time=from_now(minutes=55))

    response = api.as_user(guest).post_json("/api/bookings", {"slotId": str(slot.pk)})

    assert_error(response, 400, "BAD_REQUEST", "SLOT_IN_PAST", "Cannot book a slot in the past")


def test_booking_a_taken_slot_answers_409_slot_not_available(api, guest):
    slot = SlotFactory.create()
    booking_create(user_id=UserFactory.create().pk, slot_id=slot.pk)

    response = api.as_user(guest).post_json("/api/bookings", {"slotId": str(slot.pk)})

    assert_error(response, 409, "CONFLICT", "SLOT_NOT_AVAILABLE", "Slot is no longer available")
    assert Booking.objects.count() == 1


def test_booking_a_cancelled_slot_answers_409_slot_not_available(api, guest):
    slot = SlotFactory.create(status=SlotStatus.CANCELLED)

    response = api.as_user(guest).post_json("/api/bookings", {"slotId": str(slot.pk)})

    assert_error(response, 409, "CONFLICT", "SLOT_NOT_AVAILABLE", "Slot is no longer available")


def test_booking_the_callers_own_full_slot_answers_409_before_booking_own_slot(api, host):
    slot = SlotFactory.create(host=host)
    booking_create(user_id=UserFactory.create().pk, slot_id=slot.pk)

    response = api.as_user(host).post_json("/api/bookings", {"slotId": str(slot.pk)})

    assert_error(response, 409, "CONFLICT", "SLOT_NOT_AVAILABLE", "Slot is no longer available")


def test_booking_a_full_slot_in_the_past_answers_409_before_slot_in_past(api, guest):
    slot = SlotFactory.create()
    booking_create(user_id=UserFactory.create().pk, slot_id=slot.pk)
    # Test setup: move the booked slot into the past (no API can do this).
    Slot.objects.filter(pk=slot.pk).update(
        start_time=from_now(hours=-3), end_time=from_now(hours=-2)
    )

    response = api.as_user(guest).post_json("/api/bookings", {"slotId": str(slot.pk)})

    assert_error(response, 409, "CONFLICT", "SLOT_NOT_AVAILABLE", "Slot is no longer available")


def test_booking_an_unknown_slot_answers_404_slot_not_found(api, guest):
    response = api.as_user(guest).post_json(
        "/api/bookings", {"slotId": "00000000-0000-4000-8000-000000000000"}
    )

    assert_error(response, 404, "NOT_FOUND", "SLOT_NOT_FOUND", "Slot not found")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Required"),
        ({"slotId": None}, "Expected string, received null"),
        ({"slotId": 12}, "Expected string, received number"),
        ({"slotId": True}, "Expected string, received boolean"),
        ({"slotId": []}, "Expected string, received array"),
        ({"slotId": "nope"}, "Invalid slot ID"),
        ({"slotId": "{12345678-1234-4234-8234-123456789abc}"}, "Invalid slot ID"),
        ({"slotId": "urn:uuid:12345678-1234-4234-8234-123456789abc"}, "Invalid slot ID"),
        ({"slotId": "12345678123442348234123456789abc"}, "Invalid slot ID"),
        ({"slotId": "12345678-1234-4234-8234-123456789abc\u0000"}, "Invalid slot ID"),
    ],
)
def test_booking_with_an_invalid_slot_id_answers_the_exact_validation_message(
    api, guest, body, message
):
    response = api.as_user(guest).post_json("/api/bookings", body)

    assert_invalid(response, [{"path": "slotId", "message": message}])


def test_booking_with_an_upper_case_slot_id_books_the_slot(api, guest):
    slot = SlotFactory.create()

    response = api.as_user(guest).post_json("/api/bookings", {"slotId": str(slot.pk).upper()})

    assert response.status_code == 201
    assert response.json()["data"]["slotId"] == str(slot.pk)


def test_booking_ignores_unknown_keys(api, guest):
    slot = SlotFactory.create()

    response = api.as_user(guest).post_json(
        "/api/bookings", {"slotId": str(slot.pk), "userId": str(UserFactory.create().pk)}
    )

    assert response.json()["data"]["userId"] == str(guest.pk)


def test_sixth_active_booking_with_five_other_hosts_answers_409_max_active_bookings(api, guest):
    for _ in range(5):
        booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    sixth = SlotFactory.create()

    response = api.as_user(guest).post_json("/api/bookings", {"slotId": str(sixth.pk)})

    assert_error(
        response,
        409,
        "CONFLICT",
        "MAX_ACTIVE_BOOKINGS",
        "You have reached the maximum of 5 active bookings",
    )
    assert Slot.objects.get(pk=sixth.pk).status == SlotStatus.AVAILABLE


def test_max_active_bookings_message_uses_the_setting(api, guest, settings):
    settings.MAX_ACTIVE_BOOKINGS = 2
    for _ in range(2):
        booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)

    response = api.as_user(guest).post_json(
        "/api/bookings", {"slotId": str(SlotFactory.create().pk)}
    )

    assert (
        response.json()["error"]["message"] == "You have reached the maximum of 2 active bookings"
    )


def test_cancelled_and_past_bookings_are_not_active(api, guest, settings):
    settings.MAX_ACTIVE_BOOKINGS = 2
    cancel(booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk))
    past = booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    # Test setup: the slot of `past` has started by now.
    Slot.objects.filter(pk=past.slot_id).update(
        start_time=from_now(hours=-3), end_time=from_now(hours=-2)
    )
    booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)

    response = api.as_user(guest).post_json(
        "/api/bookings", {"slotId": str(SlotFactory.create().pk)}
    )

    assert response.status_code == 201


def test_second_active_booking_with_one_host_answers_409_host_already_booked(api, guest):
    host = HostFactory.create()
    booking_create(user_id=guest.pk, slot_id=SlotFactory.create(host=host).pk)
    second = SlotFactory.create(host=host)

    response = api.as_user(guest).post_json("/api/bookings", {"slotId": str(second.pk)})

    assert_error(
        response,
        409,
        "CONFLICT",
        "HOST_ALREADY_BOOKED",
        "You already have an active booking with this host",
    )


def test_max_active_bookings_is_checked_before_the_per_host_limit(api, guest, settings):
    settings.MAX_ACTIVE_BOOKINGS = 1
    host = HostFactory.create()
    booking_create(user_id=guest.pk, slot_id=SlotFactory.create(host=host).pk)

    response = api.as_user(guest).post_json(
        "/api/bookings", {"slotId": str(SlotFactory.create(host=host).pk)}
    )

    assert response.json()["error"]["reason"] == "MAX_ACTIVE_BOOKINGS"


def test_rebooking_a_slot_after_its_booking_was_cancelled_keeps_the_history(api, guest):
    slot = SlotFactory.create()
    first = UserFactory.create()
    cancel(booking_create(user_id=first.pk, slot_id=slot.pk))

    response = api.as_user(guest).post_json("/api/bookings", {"slotId": str(slot.pk)})

    assert response.status_code == 201
    statuses = sorted(Booking.objects.filter(slot=slot).values_list("status", flat=True))
    assert statuses == [BookingStatus.CANCELLED, BookingStatus.CONFIRMED]
    assert Slot.objects.get(pk=slot.pk).status == SlotStatus.BOOKED


def test_the_former_guest_may_book_the_freed_slot_again(api, guest):
    slot = SlotFactory.create()
    cancel(booking_create(user_id=guest.pk, slot_id=slot.pk))

    response = api.as_user(guest).post_json("/api/bookings", {"slotId": str(slot.pk)})

    assert response.status_code == 201
    assert Booking.objects.filter(slot=slot, user=guest).count() == 2


def test_booking_with_a_form_encoded_body_is_accepted(api, guest):
    slot = SlotFactory.create()

    response = api.as_user(guest).generic(
        "POST", "/api/bookings", f"slotId={slot.pk}", "application/x-www-form-urlencoded"
    )

    assert response.status_code == 201


# DELETE /api/bookings/{id} -----------------------------------------------------------------------
def test_cancelling_a_booking_a_day_ahead_answers_200_and_frees_the_slot(api, guest):
    booking = booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)

    response = api.as_user(guest).delete(f"/api/bookings/{booking.pk}")

    assert response.status_code == 200
    data = response.json()["data"]
    assert set(data) == BOOKING_KEYS
    assert data["status"] == "CANCELLED"
    assert INSTANT.match(data["cancelledAt"])
    assert data["slot"]["status"] == "AVAILABLE"
    assert Slot.objects.get(pk=booking.slot_id).status == SlotStatus.AVAILABLE


def test_cancelling_at_exactly_the_window_is_allowed(api, guest):
    # The clock is not mocked: the slot starts one window plus a 30 s margin from now, which is
    # "at least 1 h" for the whole test. The next test pins the other side at window - 1 minute,
    # so the two together fence the boundary `start - now >= cutoff` within a minute.
    slot = SlotFactory.create(
        start_time=from_now(hours=1, seconds=30), end_time=from_now(hours=2, seconds=30)
    )
    booking = booking_create(user_id=guest.pk, slot_id=slot.pk)

    response = api.as_user(guest).delete(f"/api/bookings/{booking.pk}")

    assert response.status_code == 200
    assert response.json()["data"]["status"] == "CANCELLED"


def test_cancelling_59_minutes_before_the_start_answers_400_cancellation_window_closed(api, guest):
    slot = SlotFactory.create(start_time=from_now(minutes=59), end_time=from_now(minutes=119))
    booking = booking_create(user_id=guest.pk, slot_id=slot.pk)

    response = api.as_user(guest).delete(f"/api/bookings/{booking.pk}")

    assert_error(
        response,
        400,
        "BAD_REQUEST",
        "CANCELLATION_WINDOW_CLOSED",
        "Cancellation is only allowed at least 1 hour(s) before the slot start time",
    )
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.CONFIRMED


def test_cancellation_window_follows_the_setting(api, guest, settings):
    settings.CANCELLATION_WINDOW_HOURS = 3
    slot = SlotFactory.create(start_time=from_now(hours=2, minutes=59), end_time=from_now(hours=4))
    booking = booking_create(user_id=guest.pk, slot_id=slot.pk)

    response = api.as_user(guest).delete(f"/api/bookings/{booking.pk}")

    assert response.json()["error"]["message"] == (
        "Cancellation is only allowed at least 3 hour(s) before the slot start time"
    )


def test_with_a_zero_window_a_started_slot_is_still_refused(api, guest, settings):
    settings.CANCELLATION_WINDOW_HOURS = 0
    booking = booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    # Test setup: the slot has started by now.
    Slot.objects.filter(pk=booking.slot_id).update(
        start_time=from_now(minutes=-1), end_time=from_now(minutes=59)
    )

    response = api.as_user(guest).delete(f"/api/bookings/{booking.pk}")

    assert response.json()["error"]["reason"] == "CANCELLATION_WINDOW_CLOSED"


def test_cancelling_twice_answers_409_booking_already_cancelled(api, guest):
    booking = booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    api.as_user(guest).delete(f"/api/bookings/{booking.pk}")

    response = api.delete(f"/api/bookings/{booking.pk}")

    assert_error(
        response, 409, "CONFLICT", "BOOKING_ALREADY_CANCELLED", "Booking is already cancelled"
    )


def test_cancelling_someone_elses_booking_answers_403_not_owner(api, guest):
    booking = booking_create(user_id=UserFactory.create().pk, slot_id=SlotFactory.create().pk)

    response = api.as_user(guest).delete(f"/api/bookings/{booking.pk}")

    assert_error(response, 403, "FORBIDDEN", "NOT_OWNER", "You can only cancel your own bookings")
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.CONFIRMED


def test_neither_the_slots_host_nor_staff_can_cancel_through_the_api(api, guest):
    booking = booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    staff = UserFactory.create(is_staff=True)

    by_host = api.as_user(booking.slot.host).delete(f"/api/bookings/{booking.pk}")
    by_staff = api.as_user(staff, token=True).delete(f"/api/bookings/{booking.pk}")

    for response in (by_host, by_staff):
        assert_error(
            response, 403, "FORBIDDEN", "NOT_OWNER", "You can only cancel your own bookings"
        )


@pytest.mark.parametrize("booking_id", ["nope", "00000000-0000-4000-8000-000000000000"])
def test_cancelling_a_missing_booking_answers_404_booking_not_found(api, guest, booking_id):
    response = api.as_user(guest).delete(f"/api/bookings/{booking_id}")

    assert_error(response, 404, "NOT_FOUND", "BOOKING_NOT_FOUND", "Booking not found")


# GET /api/bookings/{id} --------------------------------------------------------------------------
def test_the_guest_the_host_and_staff_with_a_token_may_view_a_booking(api, guest):
    booking = booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    staff = UserFactory.create(is_staff=True)

    for user, token in ((guest, False), (booking.slot.host, False), (staff, True)):
        response = api.as_user(user, token=token).get(f"/api/bookings/{booking.pk}")
        assert response.status_code == 200
        assert response.json()["data"]["id"] == str(booking.pk)
        assert set(response.json()["data"]) == BOOKING_KEYS


def test_another_user_viewing_a_booking_answers_403_not_owner(api, guest):
    booking = booking_create(user_id=UserFactory.create().pk, slot_id=SlotFactory.create().pk)

    response = api.as_user(guest).get(f"/api/bookings/{booking.pk}")

    assert_error(response, 403, "FORBIDDEN", "NOT_OWNER", "You can only view your own bookings")


def test_staff_authenticated_by_header_has_no_staff_privileges_on_a_booking(api, guest):
    booking = booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    staff = UserFactory.create(is_staff=True)

    response = api.as_user(staff).get(f"/api/bookings/{booking.pk}")

    assert_error(response, 403, "FORBIDDEN", "NOT_OWNER", "You can only view your own bookings")


@pytest.mark.parametrize(
    "booking_id",
    ["nope", "00000000-0000-4000-8000-000000000000", "{00000000-0000-4000-8000-000000000000}"],
)
def test_viewing_a_missing_booking_answers_404_booking_not_found(api, guest, booking_id):
    response = api.as_user(guest).get(f"/api/bookings/{booking_id}")

    assert_error(response, 404, "NOT_FOUND", "BOOKING_NOT_FOUND", "Booking not found")


def test_viewing_a_booking_by_its_upper_case_id_works(api, guest):
    booking = booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)

    response = api.as_user(guest).get(f"/api/bookings/{str(booking.pk).upper()}")

    assert response.status_code == 200


# GET /api/bookings -------------------------------------------------------------------------------
def test_list_shows_only_the_callers_bookings_newest_first(api, guest):
    older = booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    newer = booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    booking_create(user_id=UserFactory.create().pk, slot_id=SlotFactory.create().pk)
    Booking.objects.filter(pk=older.pk).update(created_at=from_now(hours=-1))

    response = api.as_user(guest).get("/api/bookings")

    payload = response.json()
    assert [b["id"] for b in payload["data"]] == [str(newer.pk), str(older.pk)]
    assert payload["meta"] == {"page": 1, "limit": 20, "total": 2}
    assert all(set(b) == BOOKING_KEYS for b in payload["data"])


def test_list_filters_on_status(api, guest):
    kept = booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    cancelled = cancel(booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk))

    confirmed = api.as_user(guest).get("/api/bookings", {"status": "CONFIRMED"})
    gone = api.get("/api/bookings", {"status": "CANCELLED"})

    assert [b["id"] for b in confirmed.json()["data"]] == [str(kept.pk)]
    assert [b["id"] for b in gone.json()["data"]] == [str(cancelled.pk)]


def test_list_with_an_unknown_status_answers_invalid_enum_value(api, guest):
    response = api.as_user(guest).get("/api/bookings", {"status": "x"})

    assert_invalid(
        response,
        [
            {
                "path": "status",
                "message": "Invalid enum value. Expected 'CONFIRMED' | 'CANCELLED', received 'x'",
            }
        ],
    )


def test_list_applies_both_date_filters_to_the_slots_start(api, guest):
    slots = [
        SlotFactory.create(start_time=from_now(days=d), end_time=from_now(days=d, hours=1))
        for d in (2, 3, 4)
    ]
    bookings = [booking_create(user_id=guest.pk, slot_id=slot.pk) for slot in slots]

    response = api.as_user(guest).get(
        "/api/bookings",
        {
            "startDate": format_instant(slots[1].start_time),
            "endDate": format_instant(slots[1].start_time),
        },
    )

    assert [b["id"] for b in response.json()["data"]] == [str(bookings[1].pk)]


def test_list_end_date_before_start_date_answers_400(api, guest):
    response = api.as_user(guest).get(
        "/api/bookings", {"startDate": "2030-01-02", "endDate": "2030-01-01T23:59:59.999Z"}
    )

    assert_invalid(
        response, [{"path": "endDate", "message": "End date must be on or after start date"}]
    )


def test_list_reports_failing_parameters_in_the_documented_order(api, guest):
    response = api.as_user(guest).get(
        "/api/bookings",
        {"limit": "x", "page": "x", "endDate": "x", "startDate": "x", "status": "x"},
    )

    paths = [d["path"] for d in response.json()["error"]["details"]]
    assert paths == ["status", "startDate", "endDate", "page", "limit"]


def test_booking_endpoints_require_authentication(api):
    booking = booking_create(user_id=UserFactory.create().pk, slot_id=SlotFactory.create().pk)

    for method, path in [
        ("get", "/api/bookings"),
        ("post", "/api/bookings"),
        ("get", f"/api/bookings/{booking.pk}"),
        ("delete", f"/api/bookings/{booking.pk}"),
    ]:
        response = getattr(api, method)(path)
        assert_error(
            response, 401, "UNAUTHORIZED", "MISSING_CREDENTIALS", "Missing x-user-id header"
        )
