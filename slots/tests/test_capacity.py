"""Seats (SPEC §12.1): capacity on slots, remaining places, the host's view of its bookings,
available=, ALREADY_BOOKED, and the database refusing any booking beyond capacity."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from accounts.tests.factories import UserFactory
from bookings.models import Booking, BookingStatus
from bookings.services import booking_cancel, booking_create
from bookings.tests.invariants import assert_booking_invariants
from core.db.instants import format_instant, now_ms
from core.db.transactions import constraint_name
from slotbooking.tests.admin import messages_of, staff_client
from slotbooking.tests.envelopes import assert_error, assert_invalid
from slots.models import Slot, SlotStatus
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db


def slot_body(capacity: object = None, *, hours: int = 24) -> dict[str, object]:
    start = now_ms() + timedelta(hours=hours)
    body: dict[str, object] = {
        "startTime": format_instant(start),
        "endTime": format_instant(start + timedelta(hours=1)),
    }
    if capacity is not None:
        body["capacity"] = capacity
    return body


def book(api, user, slot):
    return api.as_user(user).post_json("/api/bookings", {"slotId": str(slot.pk)})


# POST /api/slots with capacity --------------------------------------------------------------------
def test_12_1_a_slot_is_created_with_its_capacity_and_all_places_remaining(api, host):
    response = api.as_user(host).post_json("/api/slots", slot_body(12))

    assert response.status_code == 201, response.content
    data = response.json()["data"]
    assert (data["capacity"], data["remaining"], data["status"]) == (12, 12, "AVAILABLE")
    assert Slot.objects.get(pk=data["id"]).capacity == 12


def test_12_1_capacity_defaults_to_one(api, host):
    response = api.as_user(host).post_json("/api/slots", slot_body())

    assert (response.json()["data"]["capacity"], response.json()["data"]["remaining"]) == (1, 1)


@pytest.mark.parametrize(
    ("capacity", "message"),
    [
        ("3", "Expected number, received string"),
        (0, "Number must be greater than or equal to 1"),
        (1001, "Number must be less than or equal to 1000"),
        (2.5, "Expected integer, received float"),
        (True, "Expected number, received boolean"),
        (None, "Expected number, received null"),
    ],
)
def test_12_1_an_invalid_capacity_answers_400_at_its_path(api, host, capacity, message):
    body = slot_body()
    body["capacity"] = capacity

    response = api.as_user(host).post_json("/api/slots", body)

    assert_invalid(response, [{"path": "capacity", "message": message}])
    assert not Slot.objects.exists()


def test_12_1_the_largest_capacity_is_accepted(api, host):
    response = api.as_user(host).post_json("/api/slots", slot_body(1000))

    assert response.json()["data"]["capacity"] == 1000


# Booking a slot of several places -----------------------------------------------------------------
def test_12_1_a_slot_is_booked_exactly_when_full_and_then_answers_409(api):
    slot = SlotFactory.create(capacity=3)
    guests = UserFactory.create_batch(4)

    answers = [book(api, guest, slot) for guest in guests]

    assert [a.status_code for a in answers[:3]] == [201, 201, 201]
    assert [a.json()["data"]["slot"]["status"] for a in answers[:3]] == [
        "AVAILABLE",
        "AVAILABLE",
        "BOOKED",
    ]
    assert_error(answers[3], 409, "CONFLICT", "SLOT_NOT_AVAILABLE", "Slot is no longer available")
    slot.refresh_from_db()
    assert (slot.status, slot.booked_count) == (SlotStatus.BOOKED, 3)
    assert_booking_invariants()


def test_12_1_remaining_counts_down_and_a_cancellation_gives_the_place_back(api, guest):
    slot = SlotFactory.create(capacity=3)
    other = UserFactory.create()
    booking_create(user_id=other.pk, slot_id=slot.pk)
    mine = booking_create(user_id=guest.pk, slot_id=slot.pk)

    assert api.as_user(guest).get(f"/api/slots/{slot.pk}").json()["data"]["remaining"] == 1
    booking_cancel(booking_id=mine.pk, actor_id=guest.pk)
    assert api.as_user(guest).get(f"/api/slots/{slot.pk}").json()["data"]["remaining"] == 2


def test_12_1_a_second_booking_of_one_slot_by_the_same_user_answers_409_already_booked(api, guest):
    slot = SlotFactory.create(capacity=5)
    assert book(api, guest, slot).status_code == 201

    response = book(api, guest, slot)

    assert_error(
        response, 409, "CONFLICT", "ALREADY_BOOKED", "You already have a booking for this slot"
    )
    assert Booking.objects.filter(slot=slot, user=guest).count() == 1


def test_12_1_a_full_slot_answers_slot_not_available_before_already_booked(api, guest):
    slot = SlotFactory.create(capacity=1)
    booking_create(user_id=guest.pk, slot_id=slot.pk)

    response = book(api, guest, slot)

    assert response.json()["error"]["reason"] == "SLOT_NOT_AVAILABLE"


def test_12_1_a_guest_may_book_a_slot_again_after_cancelling_their_place(api, guest):
    slot = SlotFactory.create(capacity=2)
    first = booking_create(user_id=guest.pk, slot_id=slot.pk)
    booking_cancel(booking_id=first.pk, actor_id=guest.pk)

    assert book(api, guest, slot).status_code == 201


# Representations ----------------------------------------------------------------------------------
def test_12_1_remaining_is_zero_unless_available_and_ignores_the_time(api, guest, host):
    cancelled = SlotFactory.create(host=host, capacity=4)
    Slot.objects.filter(pk=cancelled.pk).update(status=SlotStatus.CANCELLED)
    start = now_ms() - timedelta(hours=2)
    past = SlotFactory.create(start_time=start, end_time=start + timedelta(hours=1), capacity=4)

    data = {s["id"]: s for s in api.as_user(guest).get("/api/slots").json()["data"]}

    assert data[str(cancelled.pk)]["remaining"] == 0
    assert data[str(past.pk)]["remaining"] == 4
    assert_error(
        book(api, guest, past), 400, "BAD_REQUEST", "SLOT_IN_PAST", "Cannot book a slot in the past"
    )


def test_12_1_the_host_sees_every_confirmed_booking_in_order_without_the_single_keys(api, host):
    slot = SlotFactory.create(host=host, capacity=3)
    guests = UserFactory.create_batch(3)
    bookings = [booking_create(user_id=g.pk, slot_id=slot.pk) for g in guests]
    booking_cancel(booking_id=bookings[1].pk, actor_id=guests[1].pk)

    listed = api.as_user(host).get("/api/slots/host").json()["data"][0]
    single = api.as_user(host).get(f"/api/slots/{slot.pk}").json()["data"]

    expected = [
        {"bookingId": str(b.pk), "userId": str(g.pk), "userName": g.name}
        for b, g in ((bookings[0], guests[0]), (bookings[2], guests[2]))
    ]
    for data in (listed, single):
        assert data["bookings"] == expected
        assert "bookingId" not in data
        assert "bookedByUserId" not in data
        assert (data["capacity"], data["remaining"]) == (3, 1)


def test_12_1_a_slot_of_capacity_one_keeps_booking_id_and_booked_by_user_id(api, host, guest):
    slot = SlotFactory.create(host=host)
    booking = booking_create(user_id=guest.pk, slot_id=slot.pk)

    data = api.as_user(host).get(f"/api/slots/{slot.pk}").json()["data"]

    assert (data["bookingId"], data["bookedByUserId"]) == (str(booking.pk), str(guest.pk))
    assert data["bookings"] == [
        {"bookingId": str(booking.pk), "userId": str(guest.pk), "userName": guest.name}
    ]


def test_12_1_guests_never_see_the_bookings_of_a_slot(api, guest):
    slot = SlotFactory.create(capacity=2)
    booking_create(user_id=UserFactory.create().pk, slot_id=slot.pk)

    data = api.as_user(guest).get(f"/api/slots/{slot.pk}").json()["data"]

    assert "bookings" not in data
    assert data["remaining"] == 1


# GET /api/slots?available= ------------------------------------------------------------------------
def test_12_1_available_true_keeps_only_slots_with_a_place_that_have_not_started(api, guest):
    free = SlotFactory.create(capacity=2)
    partly = SlotFactory.create(capacity=2)
    booking_create(user_id=UserFactory.create().pk, slot_id=partly.pk)
    full = SlotFactory.create()
    booking_create(user_id=UserFactory.create().pk, slot_id=full.pk)
    start = now_ms() - timedelta(minutes=30)
    started = SlotFactory.create(start_time=start, end_time=start + timedelta(hours=1))
    cancelled = SlotFactory.create()
    Slot.objects.filter(pk=cancelled.pk).update(status=SlotStatus.CANCELLED)

    yes = api.as_user(guest).get("/api/slots?available=true").json()["data"]
    no = api.as_user(guest).get("/api/slots?available=false").json()["data"]

    assert {s["id"] for s in yes} == {str(free.pk), str(partly.pk)}
    assert {s["id"] for s in no} == {str(full.pk), str(started.pk), str(cancelled.pk)}


def test_12_1_available_applies_to_the_hosts_own_list_too(api, host):
    free = SlotFactory.create(host=host)
    full = SlotFactory.create(host=host)
    booking_create(user_id=UserFactory.create().pk, slot_id=full.pk)

    data = api.as_user(host).get("/api/slots/host?available=true").json()["data"]

    assert [s["id"] for s in data] == [str(free.pk)]


def test_12_1_an_invalid_available_value_answers_400(api, guest):
    response = api.as_user(guest).get("/api/slots?available=yes")

    assert_invalid(
        response,
        [
            {
                "path": "available",
                "message": "Invalid enum value. Expected 'true' | 'false', received 'yes'",
            }
        ],
    )


# The database holds capacity whatever the code does ----------------------------------------------
def test_2_4_the_database_refuses_a_booking_beyond_capacity_written_directly():
    slot = SlotFactory.create(capacity=2)
    for guest in UserFactory.create_batch(2):
        Booking.objects.create(slot=slot, user=guest)
    slot.refresh_from_db()
    assert (slot.status, slot.booked_count) == (SlotStatus.BOOKED, 2)

    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        Booking.objects.create(slot=slot, user=UserFactory.create())

    assert constraint_name(refused.value) in {
        "slots_booked_within_capacity",
        "slots_status_matches_count",
    }
    assert Booking.objects.filter(slot=slot, status=BookingStatus.CONFIRMED).count() == 2


def test_2_4_a_full_slot_cannot_be_marked_available_nor_a_free_one_booked_by_hand():
    full = SlotFactory.create(capacity=1)
    Booking.objects.create(slot=full, user=UserFactory.create())
    free = SlotFactory.create(capacity=3)

    for sql, slot in (
        ("UPDATE slots SET status = 'AVAILABLE' WHERE id = %s", full),
        ("UPDATE slots SET status = 'BOOKED' WHERE id = %s", free),
        ("UPDATE slots SET capacity = 0 WHERE id = %s", free),
    ):
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [slot.pk])
    assert_booking_invariants()


def test_2_4_the_trigger_is_declared_on_the_booking_model():
    from bookings.models import BOOKINGS_SYNC_SLOT

    assert BOOKINGS_SYNC_SLOT in Booking._meta.triggers  # type: ignore[attr-defined]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_trigger "
            "WHERE tgrelid = 'bookings'::regclass AND NOT tgisinternal"
        )
        (count,) = cursor.fetchone()
    # bookings_sync_slot and bookings_rollup (analytics), both declared: no leftover copy.
    declared = len(Booking._meta.triggers)  # type: ignore[attr-defined]
    assert (count, declared) == (2, 2), "exactly the declared booking triggers, no leftover copy"


# Admin: capacity changes --------------------------------------------------------------------------
def _change_form(slot: Slot, capacity: int) -> dict[str, object]:
    return {
        "start_time_0": slot.start_time.strftime("%Y-%m-%d"),
        "start_time_1": slot.start_time.strftime("%H:%M:%S"),
        "end_time_0": slot.end_time.strftime("%Y-%m-%d"),
        "end_time_1": slot.end_time.strftime("%H:%M:%S"),
        "capacity": capacity,
        "bookings-TOTAL_FORMS": 0,
        "bookings-INITIAL_FORMS": 0,
        "events-TOTAL_FORMS": 0,
        "events-INITIAL_FORMS": 0,
    }


def test_12_1_admin_lowering_capacity_below_the_booked_count_is_refused_clearly(client):
    client, _ = staff_client(client)
    slot = SlotFactory.create(capacity=4)
    for guest in UserFactory.create_batch(3):
        booking_create(user_id=guest.pk, slot_id=slot.pk)

    response = client.post(
        reverse("admin:slots_slot_change", args=[slot.pk]), _change_form(slot, 2)
    )

    assert response.status_code == 200
    text = "Capacity cannot be below the 3 confirmed booking(s) of this slot; cancel bookings first"
    assert text in response.content.decode()
    assert any(text in m for m in messages_of(response))
    slot.refresh_from_db()
    assert (slot.capacity, slot.status) == (4, SlotStatus.AVAILABLE)


def test_12_1_admin_lowering_capacity_to_the_booked_count_makes_the_slot_booked(client):
    client, _ = staff_client(client)
    slot = SlotFactory.create(capacity=4)
    for guest in UserFactory.create_batch(2):
        booking_create(user_id=guest.pk, slot_id=slot.pk)

    response = client.post(
        reverse("admin:slots_slot_change", args=[slot.pk]), _change_form(slot, 2)
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    slot.refresh_from_db()
    assert (slot.capacity, slot.status) == (2, SlotStatus.BOOKED)
    assert_booking_invariants()


def test_12_1_admin_raising_capacity_of_a_full_slot_opens_it_again(client):
    client, _ = staff_client(client)
    slot = SlotFactory.create(capacity=1)
    booking_create(user_id=UserFactory.create().pk, slot_id=slot.pk)

    client.post(reverse("admin:slots_slot_change", args=[slot.pk]), _change_form(slot, 3))

    slot.refresh_from_db()
    assert (slot.capacity, slot.status, slot.booked_count) == (3, SlotStatus.AVAILABLE, 1)
