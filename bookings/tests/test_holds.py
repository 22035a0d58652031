"""Holds over HTTP (SPEC §12.4): create, release, and POST /api/bookings with holdId, the
booking part in sync and queued mode."""

from __future__ import annotations

from datetime import timedelta

import pytest

from accounts.policies import host_policy_update
from accounts.tests.factories import HostFactory, UserFactory
from bookings.holds import hold_create, holds_expire_sweep
from bookings.models import Booking, BookingStatus, Hold, HoldStatus
from bookings.services import booking_create
from bookings.tests.invariants import assert_booking_invariants
from core.db.instants import now_ms
from slotbooking.tests.envelopes import assert_error
from slots.models import Slot
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db(transaction=True)

HOLD_KEYS = ["id", "slotId", "userId", "status", "expiresAt", "bookingId", "createdAt"]


def hold(api, user, slot_id, body=None, **extra):
    return api.as_user(user).post_json(f"/api/slots/{slot_id}/holds", body or {}, **extra)


def lapse(hold_id):
    """Move a hold's expiry into the past, as time passing would."""
    Hold.objects.filter(pk=hold_id).update(expires_at=now_ms() - timedelta(seconds=1))


@pytest.fixture(autouse=True)
def _invariants():
    yield
    assert_booking_invariants()


def test_12_4_a_hold_is_201_with_its_fields_and_takes_a_place(api, guest):
    slot = SlotFactory.create(capacity=2)

    response = hold(api, guest, slot.pk)

    assert response.status_code == 201, response.content
    data = response.json()["data"]
    assert list(data) == HOLD_KEYS
    assert data["status"] == "ACTIVE"
    assert data["slotId"] == str(slot.pk)
    assert data["userId"] == str(guest.pk)
    held = Hold.objects.get(pk=data["id"])
    assert 299 <= (held.expires_at - held.created_at).total_seconds() <= 300
    assert api.get(f"/api/slots/{slot.pk}").json()["data"]["remaining"] == 1
    slot.refresh_from_db()
    assert slot.held_count == 1
    assert slot.status == "AVAILABLE"


def test_12_4_ttl_bounds_and_types(api, guest, settings):
    slot = SlotFactory.create()
    settings.HOLD_MAX_TTL_SECONDS = 600

    low = hold(api, guest, slot.pk, {"ttlSeconds": 29})
    high = hold(api, guest, slot.pk, {"ttlSeconds": 601})
    text = hold(api, guest, slot.pk, {"ttlSeconds": "60"})
    ok = hold(api, guest, slot.pk, {"ttlSeconds": 600})

    for response, message in (
        (low, "Number must be greater than or equal to 30"),
        (high, "Number must be less than or equal to 600"),
        (text, "Expected number, received string"),
    ):
        assert response.status_code == 400
        assert response.json()["error"]["details"] == [{"path": "ttlSeconds", "message": message}]
    assert ok.status_code == 201
    held = Hold.objects.get()
    assert (held.expires_at - held.created_at).total_seconds() == 600


def test_12_4_a_hold_never_lasts_past_the_start(api, guest):
    slot = SlotFactory.create(start_time=now_ms() + timedelta(seconds=100))

    response = hold(api, guest, slot.pk, {"ttlSeconds": 1800})

    assert response.status_code == 201
    assert Hold.objects.get().expires_at == Slot.objects.get(pk=slot.pk).start_time


def test_12_4_missing_slot_404_and_second_hold_409_hold_exists(api, guest):
    slot = SlotFactory.create(capacity=3)

    missing = hold(api, guest, "00000000-0000-4000-8000-000000000000")
    first = hold(api, guest, slot.pk)
    second = hold(api, guest, slot.pk)

    assert_error(missing, 404, "NOT_FOUND", "SLOT_NOT_FOUND", "Slot not found")
    assert first.status_code == 201
    assert_error(second, 409, "CONFLICT", "HOLD_EXISTS", "You already hold a place on this slot")


def test_12_4_a_lapsed_hold_is_marked_expired_before_a_new_one(api, guest):
    slot = SlotFactory.create()
    first = hold(api, guest, slot.pk).json()["data"]
    lapse(first["id"])

    again = hold(api, guest, slot.pk)

    assert again.status_code == 201
    assert Hold.objects.get(pk=first["id"]).status == HoldStatus.EXPIRED


def test_12_4_holds_get_the_booking_checks(api, guest, host):
    full = SlotFactory.create()
    booking_create(user_id=UserFactory.create().pk, slot_id=full.pk)
    own = SlotFactory.create(host=host)
    past = SlotFactory.create(
        start_time=now_ms() - timedelta(minutes=10), end_time=now_ms() + timedelta(minutes=50)
    )
    noticed = SlotFactory.create(start_time=now_ms() + timedelta(minutes=30))
    host_policy_update(host_id=noticed.host_id, min_notice_minutes=60)

    assert_error(
        hold(api, guest, full.pk),
        409,
        "CONFLICT",
        "SLOT_NOT_AVAILABLE",
        "Slot is no longer available",
    )
    assert_error(
        hold(api, host, own.pk),
        400,
        "BAD_REQUEST",
        "BOOKING_OWN_SLOT",
        "You cannot book your own slot",
    )
    assert_error(
        hold(api, guest, past.pk),
        400,
        "BAD_REQUEST",
        "SLOT_IN_PAST",
        "Cannot book a slot in the past",
    )
    assert_error(
        hold(api, guest, noticed.pk),
        400,
        "BAD_REQUEST",
        "BOOKING_NOTICE_TOO_SHORT",
        "This host requires bookings at least 1 hour(s) in advance",
    )


def test_12_4_a_hold_with_the_host_already_booked_is_409(api, guest):
    host = HostFactory.create()
    first, second = SlotFactory.create_batch(2, host=host)
    booking_create(user_id=guest.pk, slot_id=first.pk)

    response = hold(api, guest, second.pk)

    assert_error(
        response,
        409,
        "CONFLICT",
        "HOST_ALREADY_BOOKED",
        "You already have an active booking with this host",
    )


def test_12_4_a_held_last_place_is_not_available_to_others(api, guest, booking_mode):
    slot = SlotFactory.create()
    hold(api, guest, slot.pk)
    other = UserFactory.create()

    booking = api.as_user(other).post_json("/api/bookings", {"slotId": str(slot.pk)})
    other_hold = hold(api, other, slot.pk)

    assert_error(booking, 409, "CONFLICT", "SLOT_NOT_AVAILABLE", "Slot is no longer available")
    assert_error(other_hold, 409, "CONFLICT", "SLOT_NOT_AVAILABLE", "Slot is no longer available")
    listed = api.get("/api/slots", {"available": "true"}).json()["data"]
    assert str(slot.pk) not in [row["id"] for row in listed]


def test_12_4_a_lapsed_hold_takes_no_place_even_before_it_is_marked(api, guest, booking_mode):
    slot = SlotFactory.create()
    held = hold(api, guest, slot.pk).json()["data"]
    lapse(held["id"])
    other = UserFactory.create()

    assert api.get(f"/api/slots/{slot.pk}").json()["data"]["remaining"] == 1
    listed = api.get("/api/slots", {"available": "true"}).json()["data"]
    assert str(slot.pk) in [row["id"] for row in listed]
    booking = api.as_user(other).post_json("/api/bookings", {"slotId": str(slot.pk)})

    assert booking.status_code == 201, booking.content
    assert Hold.objects.get(pk=held["id"]).status == HoldStatus.EXPIRED


def test_12_4_booking_with_the_hold_consumes_it_in_the_same_transaction(api, guest, booking_mode):
    slot = SlotFactory.create()
    held = hold(api, guest, slot.pk).json()["data"]

    response = api.as_user(guest).post_json(
        "/api/bookings", {"slotId": str(slot.pk), "holdId": held["id"]}
    )

    assert response.status_code == 201, response.content
    assert response.json()["data"]["slot"]["status"] == "BOOKED"
    used = Hold.objects.get(pk=held["id"])
    assert used.status == HoldStatus.CONSUMED
    assert str(used.booking_id) == response.json()["data"]["id"]
    slot.refresh_from_db()
    assert (slot.booked_count, slot.held_count) == (1, 0)


def test_12_4_booking_hold_errors(api, guest, booking_mode):
    slot, other_slot = SlotFactory.create_batch(2, capacity=2)
    held = hold(api, guest, slot.pk).json()["data"]
    stranger = UserFactory.create()
    strangers_hold = hold(api, stranger, other_slot.pk).json()["data"]

    def book(user, slot_id, hold_id):
        return api.as_user(user).post_json(
            "/api/bookings", {"slotId": str(slot_id), "holdId": str(hold_id)}
        )

    assert_error(
        book(guest, slot.pk, "00000000-0000-4000-8000-000000000000"),
        404,
        "NOT_FOUND",
        "HOLD_NOT_FOUND",
        "Hold not found",
    )
    assert_error(
        book(guest, other_slot.pk, strangers_hold["id"]),
        404,
        "NOT_FOUND",
        "HOLD_NOT_FOUND",
        "Hold not found",
    )
    assert_error(
        book(guest, other_slot.pk, held["id"]),
        400,
        "BAD_REQUEST",
        "HOLD_SLOT_MISMATCH",
        "Hold is for a different slot",
    )
    lapse(held["id"])
    assert_error(
        book(guest, slot.pk, held["id"]), 409, "CONFLICT", "HOLD_EXPIRED", "Hold has expired"
    )
    invalid = api.as_user(guest).post_json(
        "/api/bookings", {"slotId": str(slot.pk), "holdId": "nope"}
    )
    assert invalid.json()["error"]["details"] == [{"path": "holdId", "message": "Invalid hold ID"}]
    assert not Booking.objects.exists()


def test_12_4_release_frees_the_place_and_is_not_repeatable(api, guest):
    slot = SlotFactory.create()
    held = hold(api, guest, slot.pk).json()["data"]
    url = f"/api/slots/{slot.pk}/holds/{held['id']}"

    stranger = api.as_user(UserFactory.create()).delete(url)
    released = api.as_user(guest).delete(url)
    again = api.as_user(guest).delete(url)

    assert_error(stranger, 404, "NOT_FOUND", "HOLD_NOT_FOUND", "Hold not found")
    assert released.status_code == 200
    assert released.json()["data"]["status"] == "RELEASED"
    assert_error(again, 409, "CONFLICT", "HOLD_NOT_ACTIVE", "Hold is no longer active")
    assert api.get(f"/api/slots/{slot.pk}").json()["data"]["remaining"] == 1


def test_12_4_hold_create_is_idempotent(api, guest):
    slot = SlotFactory.create(capacity=3)

    first = hold(api, guest, slot.pk, {"ttlSeconds": 60}, HTTP_IDEMPOTENCY_KEY="h-1")
    replay = hold(api, guest, slot.pk, {"ttlSeconds": 60}, HTTP_IDEMPOTENCY_KEY="h-1")
    other = hold(api, guest, slot.pk, {"ttlSeconds": 90}, HTTP_IDEMPOTENCY_KEY="h-1")

    assert first.status_code == 201
    assert replay.status_code == 201
    assert replay.content == first.content
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 422
    assert Hold.objects.count() == 1


def test_12_4_the_sweep_marks_lapsed_holds_expired(api, guest):
    slot = SlotFactory.create()
    held = hold_create(user_id=guest.pk, slot_id=slot.pk)
    lapse(held.pk)

    assert holds_expire_sweep() == 1

    assert Hold.objects.get(pk=held.pk).status == HoldStatus.EXPIRED
    assert Slot.objects.get(pk=slot.pk).held_count == 0
    assert BookingStatus.CONFIRMED  # the module's statuses load
