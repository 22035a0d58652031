"""The booking scenarios of SPEC §14, run in sync AND queued mode (real Redis, real workers):
the same requests must get the same answers, so the two modes cannot drift apart (SPEC §7.1)."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest

from accounts.locks import user_lock
from accounts.policies import host_policy_update
from accounts.tests.factories import HostFactory, UserFactory
from bookings.models import Booking, BookingEvent, BookingStatus
from bookings.services import booking_cancel, booking_create
from bookings.tests.factories import post_booking
from bookings.tests.invariants import assert_booking_invariants
from core.db.instants import now_ms
from slotbooking.tests.concurrency import (
    LocksHeld,
    answers,
    assert_overlapped,
    http_call,
    outcomes,
    run_at_once,
    slot_locks,
)
from slotbooking.tests.envelopes import assert_error
from slots.models import Slot, SlotStatus
from slots.tests.factories import SlotFactory

# transaction=True: the workers are other processes and see committed rows only.
pytestmark = pytest.mark.django_db(transaction=True)

BOOKING_KEYS = ["id", "slotId", "userId", "status", "cancelledAt", "slot", "createdAt", "updatedAt"]


def test_a_guest_booking_a_slot_gets_201_with_the_booked_slot(api, guest, booking_mode):
    slot = SlotFactory.create()

    response = post_booking(api, guest, slot.pk)

    assert response.status_code == 201, response.content
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert list(body) == ["success", "data"]
    assert list(body["data"]) == BOOKING_KEYS
    assert body["data"]["status"] == "CONFIRMED"
    assert body["data"]["slot"]["status"] == "BOOKED"
    booking = Booking.objects.get(slot=slot)
    assert body["data"]["id"] == str(booking.pk)
    event = BookingEvent.objects.get(booking=booking)
    assert event.source == ("worker" if booking_mode == "queued" else "api")
    assert event.actor_id == guest.pk


def test_one_job_books_and_a_second_job_for_the_slot_gets_409(api, booking_mode):
    slot = SlotFactory.create()
    first, second = UserFactory.create_batch(2)

    one = post_booking(api, first, slot.pk)
    two = post_booking(api, second, slot.pk)

    assert one.status_code == 201
    assert_error(two, 409, "CONFLICT", "SLOT_NOT_AVAILABLE", "Slot is no longer available")
    assert Booking.objects.filter(slot=slot).count() == 1


def test_booking_an_unknown_slot_answers_404(api, guest, booking_mode):
    response = post_booking(api, guest, "00000000-0000-4000-8000-000000000000")

    assert_error(response, 404, "NOT_FOUND", "SLOT_NOT_FOUND", "Slot not found")


def test_booking_with_an_invalid_slot_id_answers_400_validation(api, guest, booking_mode):
    response = api.as_user(guest).post_json("/api/bookings", {"slotId": "nope"})

    assert response.status_code == 400
    assert response.json()["error"]["details"] == [{"path": "slotId", "message": "Invalid slot ID"}]


def test_a_host_booking_their_own_slot_answers_400_under_the_locks(api, host, booking_mode):
    slot = SlotFactory.create(host=host)

    response = post_booking(api, host, slot.pk)

    assert_error(response, 400, "BAD_REQUEST", "BOOKING_OWN_SLOT", "You cannot book your own slot")
    assert not Booking.objects.exists()


def test_booking_a_slot_that_has_started_answers_400_slot_in_past(api, guest, booking_mode):
    start = now_ms() - timedelta(minutes=10)
    slot = SlotFactory.create(start_time=start, end_time=start + timedelta(hours=1))

    response = post_booking(api, guest, slot.pk)

    assert_error(response, 400, "BAD_REQUEST", "SLOT_IN_PAST", "Cannot book a slot in the past")


def test_a_sixth_active_booking_answers_409_max_active_bookings(api, guest, booking_mode):
    for slot in SlotFactory.create_batch(5):  # five slots of five hosts
        booking_create(user_id=guest.pk, slot_id=slot.pk)

    response = post_booking(api, guest, SlotFactory.create().pk)

    assert_error(
        response,
        409,
        "CONFLICT",
        "MAX_ACTIVE_BOOKINGS",
        "You have reached the maximum of 5 active bookings",
    )


def test_a_second_active_booking_with_one_host_answers_409(api, guest, booking_mode):
    host = HostFactory.create()
    first, second = SlotFactory.create_batch(2, host=host)
    booking_create(user_id=guest.pk, slot_id=first.pk)

    response = post_booking(api, guest, second.pk)

    assert_error(
        response,
        409,
        "CONFLICT",
        "HOST_ALREADY_BOOKED",
        "You already have an active booking with this host",
    )


def test_a_slot_can_be_booked_again_after_its_booking_was_cancelled(api, guest, booking_mode):
    slot = SlotFactory.create()
    other = UserFactory.create()
    booking = booking_create(user_id=other.pk, slot_id=slot.pk)
    booking_cancel(booking_id=booking.pk, actor_id=other.pk)

    response = post_booking(api, guest, slot.pk)

    assert response.status_code == 201, response.content
    statuses = sorted(Booking.objects.filter(slot=slot).values_list("status", flat=True))
    assert statuses == [BookingStatus.CANCELLED, BookingStatus.CONFIRMED]


def test_a_replay_with_the_key_sends_the_same_bytes(api, guest, booking_mode):
    slot = SlotFactory.create()

    first = post_booking(api, guest, slot.pk, HTTP_IDEMPOTENCY_KEY="k-1")
    second = post_booking(api, guest, slot.pk, HTTP_IDEMPOTENCY_KEY="k-1")
    other_body = post_booking(api, guest, SlotFactory.create().pk, HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == 201, first.content
    assert second.content == first.content
    assert second.headers["Idempotent-Replayed"] == "true"
    assert other_body.status_code == 422
    assert Booking.objects.count() == 1


def test_a_stored_4xx_is_replayed_in_both_modes(api, host, booking_mode):
    slot = SlotFactory.create(host=host)

    first = post_booking(api, host, slot.pk, HTTP_IDEMPOTENCY_KEY="own")
    second = post_booking(api, host, slot.pk, HTTP_IDEMPOTENCY_KEY="own")

    assert first.status_code == 400
    assert second.content == first.content
    assert second.headers["Idempotent-Replayed"] == "true"


# The original's queue cases, through real HTTP (live server) --------------------------------------
def book_over_http(live_server, user, slot_id):
    return lambda: http_call(
        "POST", f"{live_server.url}/api/bookings", user_id=user.pk, body={"slotId": str(slot_id)}
    )


def test_twenty_users_on_one_slot_get_one_success_and_nineteen_conflicts(live_server, booking_mode):
    slot = SlotFactory.create()
    users = UserFactory.create_batch(20)

    attempts = run_at_once([book_over_http(live_server, u, slot.pk) for u in users], connect=False)

    answers = [a.result for a in attempts]
    assert all(a.error is None for a in attempts), [a.error for a in attempts]
    assert sorted(a.status for a in answers) == [201] + [409] * 19
    assert {a.reason for a in answers if a.status == 409} == {"SLOT_NOT_AVAILABLE"}
    assert Booking.objects.filter(slot=slot).count() == 1
    assert Slot.objects.get(pk=slot.pk).status == SlotStatus.BOOKED
    assert_booking_invariants()


def test_twenty_five_users_round_robin_on_five_slots_get_exactly_five(live_server, booking_mode):
    host = HostFactory.create()
    slots = SlotFactory.create_batch(5, host=host)
    users = UserFactory.create_batch(25)

    attempts = run_at_once(
        [book_over_http(live_server, u, slots[i % 5].pk) for i, u in enumerate(users)],
        connect=False,
    )

    statuses = sorted(a.result.status for a in attempts)
    assert statuses == [201] * 5 + [409] * 20
    assert {a.result.reason for a in attempts if a.result.status == 409} == {"SLOT_NOT_AVAILABLE"}
    for slot in slots:
        assert Booking.objects.filter(slot=slot).count() == 1
    assert_booking_invariants()


def test_thirty_concurrent_requests_on_one_slot_book_it_once(live_server, booking_mode):
    slot = SlotFactory.create()
    users = UserFactory.create_batch(30)

    attempts = run_at_once([book_over_http(live_server, u, slot.pk) for u in users], connect=False)

    assert all(a.error is None for a in attempts), [repr(a.error) for a in attempts if a.error]
    assert [a.result.status for a in attempts].count(201) == 1
    assert {a.result.reason for a in attempts if a.result.status != 201} == {"SLOT_NOT_AVAILABLE"}
    assert Booking.objects.filter(slot=slot, status=BookingStatus.CONFIRMED).count() == 1
    assert_booking_invariants()


# Concurrent clients over real HTTP, both modes ----------------------------------------------------
def test_ten_clients_posting_one_slot_at_once_get_one_201_and_nine_409_slot_not_available(
    live_server, settings, booking_mode
):
    settings.BOOKING_TEST_DELAY_BEFORE_WRITE = 0.3  # the winner stays in its transaction
    slot = SlotFactory.create()
    guests = UserFactory.create_batch(10)

    attempts = run_at_once([book_over_http(live_server, g, slot.pk) for g in guests], connect=False)

    assert_overlapped(attempts)
    assert outcomes(attempts) == {(201, None): 1, (409, "SLOT_NOT_AVAILABLE"): 9}
    (created,) = [a for a in answers(attempts) if a.status == 201]
    assert created.body["data"]["slot"]["status"] == "BOOKED"
    assert all(
        a.body["error"]["message"] == "Slot is no longer available"
        for a in answers(attempts)
        if a.status == 409
    )
    assert Booking.objects.filter(slot=slot, status=BookingStatus.CONFIRMED).count() == 1
    assert Slot.objects.get(pk=slot.pk).status == SlotStatus.BOOKED
    assert_booking_invariants()


# Sync mode only: the test holds the row locks, so the web transactions must queue behind them --
def test_ten_clients_queued_on_the_slot_lock_get_one_201_and_nine_409(live_server):
    slot = SlotFactory.create()
    guests = UserFactory.create_batch(10)

    with LocksHeld(slot_locks(slot), release_when_waiting=10):
        attempts = run_at_once(
            [book_over_http(live_server, g, slot.pk) for g in guests], connect=False
        )

    assert_overlapped(attempts)
    assert outcomes(attempts) == {(201, None): 1, (409, "SLOT_NOT_AVAILABLE"): 9}
    assert_booking_invariants()


def test_twenty_clients_on_five_slots_of_one_host_get_five_201_and_fifteen_409(live_server):
    host = HostFactory.create()
    slots = [SlotFactory.create(host=host) for _ in range(5)]
    guests = UserFactory.create_batch(20)
    calls = [book_over_http(live_server, g, slots[i % 5].pk) for i, g in enumerate(guests)]

    with LocksHeld(slot_locks(*slots), release_when_waiting=20):
        attempts = run_at_once(calls, connect=False)

    assert_overlapped(attempts)
    assert outcomes(attempts) == {(201, None): 5, (409, "SLOT_NOT_AVAILABLE"): 15}
    booked = sorted(a.body["data"]["slotId"] for a in answers(attempts) if a.status == 201)
    assert booked == sorted(str(s.pk) for s in slots)  # one per slot
    assert_booking_invariants()


def test_twenty_clients_booking_twenty_different_slots_at_once_all_get_201(
    live_server, settings, booking_mode
):
    settings.BOOKING_TEST_DELAY_BEFORE_WRITE = 0.3
    slots = [SlotFactory.create() for _ in range(20)]
    guests = UserFactory.create_batch(20)
    calls = [book_over_http(live_server, g, s.pk) for g, s in zip(guests, slots, strict=True)]

    attempts = run_at_once(calls, connect=False)

    assert_overlapped(attempts)
    assert outcomes(attempts) == {(201, None): 20}
    assert_booking_invariants()


def test_one_client_posting_six_slots_of_six_hosts_at_once_gets_five_201_and_one_409(
    live_server, settings
):
    settings.MAX_ACTIVE_BOOKINGS = 5
    guest = UserFactory.create()
    slots = [SlotFactory.create() for _ in range(6)]

    with LocksHeld(partial(user_lock, user_id=guest.pk), release_when_waiting=6):
        attempts = run_at_once(
            [book_over_http(live_server, guest, s.pk) for s in slots], connect=False
        )

    assert_overlapped(attempts)
    assert outcomes(attempts) == {(201, None): 5, (409, "MAX_ACTIVE_BOOKINGS"): 1}
    (refused,) = [a for a in answers(attempts) if a.status == 409]
    assert refused.body["error"]["message"] == "You have reached the maximum of 5 active bookings"
    assert_booking_invariants()


def test_one_client_posting_two_slots_of_one_host_at_once_gets_201_and_409_host_already_booked(
    live_server,
):
    guest = UserFactory.create()
    host = HostFactory.create()
    slots = [SlotFactory.create(host=host) for _ in range(2)]

    with LocksHeld(partial(user_lock, user_id=guest.pk), release_when_waiting=2):
        attempts = run_at_once(
            [book_over_http(live_server, guest, s.pk) for s in slots], connect=False
        )

    assert_overlapped(attempts)
    assert outcomes(attempts) == {(201, None): 1, (409, "HOST_ALREADY_BOOKED"): 1}
    assert_booking_invariants()


def test_a_booking_post_behind_a_held_slot_lock_gets_503_lock_timeout_and_writes_nothing(
    live_server, settings
):
    settings.BOOKING_LOCK_TIMEOUT = 0.5
    slot = SlotFactory.create()
    guest = UserFactory.create()

    # Held until the request has been answered, so the wait must exceed the lock timeout.
    with LocksHeld(slot_locks(slot)):
        answer = book_over_http(live_server, guest, slot.pk)()

    assert answer.status == 503
    assert answer.headers.get("Retry-After") == "1"
    assert answer.body == {
        "success": False,
        "error": {
            "code": "SERVICE_UNAVAILABLE",
            "reason": "LOCK_TIMEOUT",
            "message": "The server is busy, please try again",
        },
    }
    assert not Booking.objects.exists()
    slot.refresh_from_db()
    assert (slot.status, slot.booked_count) == (SlotStatus.AVAILABLE, 0)
    assert_booking_invariants()


# Seats and host policies, the same in both modes (SPEC §12.1, §12.2) ---------------------------
def test_12_1_a_slot_of_three_places_takes_three_guests_then_answers_409(api, booking_mode):
    slot = SlotFactory.create(capacity=3)
    guests = UserFactory.create_batch(4)

    answers = [post_booking(api, guest, slot.pk) for guest in guests]

    assert [a.status_code for a in answers[:3]] == [201, 201, 201]
    assert [a.json()["data"]["slot"]["status"] for a in answers[:3]] == [
        "AVAILABLE",
        "AVAILABLE",
        "BOOKED",
    ]
    assert_error(answers[3], 409, "CONFLICT", "SLOT_NOT_AVAILABLE", "Slot is no longer available")
    assert_booking_invariants()


def test_12_1_a_second_booking_of_one_slot_by_one_guest_answers_already_booked(
    api, guest, booking_mode
):
    slot = SlotFactory.create(capacity=4)
    booking_create(user_id=guest.pk, slot_id=slot.pk)

    response = post_booking(api, guest, slot.pk)

    assert_error(
        response, 409, "CONFLICT", "ALREADY_BOOKED", "You already have a booking for this slot"
    )


def test_12_2_minimum_notice_answers_the_same_in_both_modes(api, guest, booking_mode):
    host = HostFactory.create()
    host_policy_update(host_id=host.pk, min_notice_minutes=150)
    start = now_ms() + timedelta(hours=2)
    slot = SlotFactory.create(host=host, start_time=start, end_time=start + timedelta(hours=1))

    response = post_booking(api, guest, slot.pk)

    assert_error(
        response,
        400,
        "BAD_REQUEST",
        "BOOKING_NOTICE_TOO_SHORT",
        "This host requires bookings at least 150 minute(s) in advance",
    )


def test_12_2_maximum_horizon_answers_the_same_in_both_modes(api, guest, booking_mode):
    host = HostFactory.create()
    host_policy_update(host_id=host.pk, max_horizon_days=2)
    start = now_ms() + timedelta(days=3)
    slot = SlotFactory.create(host=host, start_time=start, end_time=start + timedelta(hours=1))

    response = post_booking(api, guest, slot.pk)

    assert_error(
        response,
        400,
        "BAD_REQUEST",
        "BOOKING_BEYOND_HORIZON",
        "This host accepts bookings at most 2 day(s) in advance",
    )


def test_12_2_a_per_guest_limit_of_two_answers_the_same_in_both_modes(api, guest, booking_mode):
    host = HostFactory.create()
    host_policy_update(host_id=host.pk, max_active_bookings_per_guest=2)
    slots = SlotFactory.create_batch(3, host=host)

    answers = [post_booking(api, guest, slot.pk) for slot in slots]

    assert [a.status_code for a in answers[:2]] == [201, 201]
    assert_error(
        answers[2],
        409,
        "CONFLICT",
        "HOST_ALREADY_BOOKED",
        "You have reached the maximum of 2 active bookings with this host",
    )
    assert_booking_invariants()


def test_12_2_the_global_maximum_applies_on_top_in_both_modes(api, guest, settings, booking_mode):
    settings.MAX_ACTIVE_BOOKINGS = 5  # the workers run with the default of 5 too
    host = HostFactory.create()
    host_policy_update(host_id=host.pk, max_active_bookings_per_guest=10)
    slots = SlotFactory.create_batch(6, host=host)
    for slot in slots[:5]:
        booking_create(user_id=guest.pk, slot_id=slot.pk)

    response = post_booking(api, guest, slots[5].pk)

    assert_error(
        response,
        409,
        "CONFLICT",
        "MAX_ACTIVE_BOOKINGS",
        "You have reached the maximum of 5 active bookings",
    )


def test_12_1_n_plus_k_guests_racing_over_http_for_n_places_get_exactly_n(
    live_server, booking_mode
):
    slot = SlotFactory.create(capacity=5)
    users = UserFactory.create_batch(12)

    attempts = run_at_once([book_over_http(live_server, u, slot.pk) for u in users], connect=False)

    assert all(a.error is None for a in attempts), [repr(a.error) for a in attempts if a.error]
    assert sorted(a.result.status for a in attempts) == [201] * 5 + [409] * 7
    assert {a.result.reason for a in attempts if a.result.status == 409} == {"SLOT_NOT_AVAILABLE"}
    assert Slot.objects.get(pk=slot.pk).status == SlotStatus.BOOKED
    assert_booking_invariants()


def test_12_1_one_guest_booking_a_five_place_slot_from_five_clients_gets_one(
    live_server, booking_mode
):
    slot = SlotFactory.create(capacity=5)
    guest = UserFactory.create()

    attempts = run_at_once(
        [book_over_http(live_server, guest, slot.pk) for _ in range(5)], connect=False
    )

    assert all(a.error is None for a in attempts), [repr(a.error) for a in attempts if a.error]
    assert sorted(a.result.status for a in attempts) == [201] + [409] * 4
    assert {a.result.reason for a in attempts if a.result.status == 409} == {"ALREADY_BOOKED"}
    assert Booking.objects.filter(slot=slot, status=BookingStatus.CONFIRMED).count() == 1
    assert_booking_invariants()


def test_12_2_a_guest_with_a_limit_of_two_booking_four_slots_at_once_gets_two(
    live_server, booking_mode
):
    host = HostFactory.create()
    host_policy_update(host_id=host.pk, max_active_bookings_per_guest=2)
    slots = SlotFactory.create_batch(4, host=host)
    guest = UserFactory.create()

    attempts = run_at_once(
        [book_over_http(live_server, guest, slot.pk) for slot in slots], connect=False
    )

    assert all(a.error is None for a in attempts), [repr(a.error) for a in attempts if a.error]
    assert sorted(a.result.status for a in attempts) == [201, 201, 409, 409]
    assert {a.result.reason for a in attempts if a.result.status == 409} == {"HOST_ALREADY_BOOKED"}
    assert_booking_invariants()


def test_12_2_cancel_with_the_hosts_cutoff_is_the_same_in_both_modes(api, guest, booking_mode):
    host = HostFactory.create()
    host_policy_update(host_id=host.pk, cancellation_cutoff_minutes=180)
    start = now_ms() + timedelta(hours=2)
    slot = SlotFactory.create(host=host, start_time=start, end_time=start + timedelta(hours=1))
    booking = post_booking(api, guest, slot.pk).json()["data"]

    response = api.as_user(guest).delete(f"/api/bookings/{booking['id']}")

    assert_error(
        response,
        400,
        "BAD_REQUEST",
        "CANCELLATION_WINDOW_CLOSED",
        "Cancellation is only allowed at least 3 hour(s) before the slot start time",
    )
