"""POST /api/bookings/{id}/reschedule over HTTP (SPEC §12.3): every rule, the audit event,
idempotency; and the races of two reschedules."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

import pytest

from accounts.policies import host_policy_update
from accounts.tests.factories import HostFactory, UserFactory
from bookings.holds import hold_create
from bookings.models import Booking, BookingEvent, Hold, HoldStatus
from bookings.reschedule import booking_reschedule
from bookings.services import booking_cancel, booking_create
from bookings.tests.invariants import assert_booking_invariants
from core.db.instants import now_ms
from slotbooking.tests.concurrency import assert_overlapped, run_at_once
from slotbooking.tests.envelopes import assert_error
from slots.models import Slot
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _invariants():
    yield
    assert_booking_invariants()


def move(api, user, booking_id, slot_id, **extra):
    body = {"slotId": str(slot_id), **{k: v for k, v in extra.items() if k == "holdId"}}
    headers = {k: v for k, v in extra.items() if k != "holdId"}
    return api.as_user(user).post_json(f"/api/bookings/{booking_id}/reschedule", body, **headers)


def test_12_3_reschedule_keeps_id_and_created_at_and_moves_the_count(api, guest):
    host = HostFactory.create()
    old, new = SlotFactory.create_batch(2, host=host)
    booking = booking_create(user_id=guest.pk, slot_id=old.pk)

    response = move(api, guest, booking.pk, new.pk)

    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data["id"] == str(booking.pk)
    assert data["slotId"] == str(new.pk)
    assert data["slot"]["status"] == "BOOKED"
    moved = Booking.objects.get(pk=booking.pk)
    assert moved.created_at == booking.created_at
    assert moved.updated_at > booking.updated_at
    assert Slot.objects.get(pk=old.pk).status == "AVAILABLE"
    event = BookingEvent.objects.get(booking=booking, action="RESCHEDULED")
    assert (event.action, event.old_slot_id, event.new_slot_id) == ("RESCHEDULED", old.pk, new.pk)
    assert (event.old_status, event.new_status) == ("CONFIRMED", "CONFIRMED")
    history = api.as_user(guest).get(f"/api/bookings/{booking.pk}/history").json()["data"]
    assert [row["action"] for row in history] == ["CREATED", "RESCHEDULED"]


def test_12_3_missing_booking_not_owner_missing_slot(api, guest):
    booking = booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)

    missing = move(api, guest, "00000000-0000-4000-8000-000000000000", booking.slot_id)
    stranger = move(api, UserFactory.create(), booking.pk, SlotFactory.create().pk)
    no_slot = move(api, guest, booking.pk, "00000000-0000-4000-8000-000000000000")
    invalid = api.as_user(guest).post_json(f"/api/bookings/{booking.pk}/reschedule", {})

    assert_error(missing, 404, "NOT_FOUND", "BOOKING_NOT_FOUND", "Booking not found")
    assert_error(
        stranger, 403, "FORBIDDEN", "NOT_OWNER", "You can only reschedule your own bookings"
    )
    assert_error(no_slot, 404, "NOT_FOUND", "SLOT_NOT_FOUND", "Slot not found")
    assert invalid.json()["error"]["details"] == [{"path": "slotId", "message": "Required"}]


def test_12_3_cancelled_same_slot_and_window_closed(api, guest):
    cancelled = booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    booking_cancel(booking_id=cancelled.pk, actor_id=guest.pk)
    soon = SlotFactory.create(start_time=now_ms() + timedelta(minutes=30))
    close = booking_create(user_id=guest.pk, slot_id=soon.pk)
    target = SlotFactory.create()

    assert_error(
        move(api, guest, cancelled.pk, target.pk),
        409,
        "CONFLICT",
        "BOOKING_ALREADY_CANCELLED",
        "Booking is already cancelled",
    )
    assert_error(
        move(api, guest, close.pk, soon.pk),
        400,
        "BAD_REQUEST",
        "RESCHEDULE_SAME_SLOT",
        "The booking is already for this slot",
    )
    assert_error(
        move(api, guest, close.pk, target.pk),
        400,
        "BAD_REQUEST",
        "RESCHEDULE_WINDOW_CLOSED",
        "Rescheduling is only allowed at least 1 hour(s) before the slot start time",
    )
    host_policy_update(host_id=soon.host_id, cancellation_cutoff_minutes=90)
    assert move(api, guest, close.pk, target.pk).json()["error"]["message"] == (
        "Rescheduling is only allowed at least 90 minute(s) before the slot start time"
    )
    assert Booking.objects.get(pk=close.pk).slot_id == soon.pk


def test_12_3_the_new_slot_gets_the_booking_checks_and_nothing_changes(api, guest, host):
    booking = booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    full = SlotFactory.create()
    booking_create(user_id=UserFactory.create().pk, slot_id=full.pk)
    own = SlotFactory.create(host=guest) if guest.is_host else None
    past = SlotFactory.create(
        start_time=now_ms() - timedelta(minutes=10), end_time=now_ms() + timedelta(minutes=50)
    )
    far = SlotFactory.create(start_time=now_ms() + timedelta(days=20))
    host_policy_update(host_id=far.host_id, max_horizon_days=10)

    assert_error(
        move(api, guest, booking.pk, full.pk),
        409,
        "CONFLICT",
        "SLOT_NOT_AVAILABLE",
        "Slot is no longer available",
    )
    assert_error(
        move(api, guest, booking.pk, past.pk),
        400,
        "BAD_REQUEST",
        "SLOT_IN_PAST",
        "Cannot book a slot in the past",
    )
    assert_error(
        move(api, guest, booking.pk, far.pk),
        400,
        "BAD_REQUEST",
        "BOOKING_BEYOND_HORIZON",
        "This host accepts bookings at most 10 day(s) in advance",
    )
    assert own is None or move(api, guest, booking.pk, own.pk).status_code == 400
    assert Booking.objects.get(pk=booking.pk).slot_id == booking.slot_id
    assert BookingEvent.objects.filter(booking=booking).count() == 1


def test_12_3_the_booking_is_left_out_of_the_users_counts(api, guest, settings):
    """Moving to another slot of the same host is not a second booking with that host, and a
    user at MAX_ACTIVE_BOOKINGS may still move one of them."""
    settings.MAX_ACTIVE_BOOKINGS = 2
    host = HostFactory.create()
    old, new = SlotFactory.create_batch(2, host=host)
    booking = booking_create(user_id=guest.pk, slot_id=old.pk)
    booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)

    response = move(api, guest, booking.pk, new.pk)

    assert response.status_code == 200, response.content


def test_12_3_own_slot_and_other_host_limit(api, host):
    guest_host = host  # a user with both roles
    booking = booking_create(user_id=guest_host.pk, slot_id=SlotFactory.create().pk)
    own = SlotFactory.create(host=guest_host)
    other_host = HostFactory.create()
    booking_create(user_id=guest_host.pk, slot_id=SlotFactory.create(host=other_host).pk)
    second_of_other = SlotFactory.create(host=other_host)

    assert_error(
        move(api, guest_host, booking.pk, own.pk),
        400,
        "BAD_REQUEST",
        "BOOKING_OWN_SLOT",
        "You cannot book your own slot",
    )
    assert_error(
        move(api, guest_host, booking.pk, second_of_other.pk),
        409,
        "CONFLICT",
        "HOST_ALREADY_BOOKED",
        "You already have an active booking with this host",
    )


def test_12_3_reschedule_with_a_hold_on_the_new_slot(api, guest):
    booking = booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    new = SlotFactory.create()
    held = hold_create(user_id=guest.pk, slot_id=new.pk)

    response = move(api, guest, booking.pk, new.pk, holdId=str(held.pk))

    assert response.status_code == 200, response.content
    used = Hold.objects.get(pk=held.pk)
    assert used.status == HoldStatus.CONSUMED
    assert used.booking_id == booking.pk


def test_12_3_reschedule_is_idempotent(api, guest):
    booking = booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    new = SlotFactory.create()

    first = move(api, guest, booking.pk, new.pk, HTTP_IDEMPOTENCY_KEY="r-1")
    replay = move(api, guest, booking.pk, new.pk, HTTP_IDEMPOTENCY_KEY="r-1")

    assert first.status_code == 200
    assert replay.content == first.content
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert BookingEvent.objects.filter(booking=booking, action="RESCHEDULED").count() == 1


def test_12_3_two_reschedules_into_one_last_place(db):
    target = SlotFactory.create()
    first, second = UserFactory.create_batch(2)
    bookings = [
        booking_create(user_id=user.pk, slot_id=SlotFactory.create().pk) for user in (first, second)
    ]

    attempts = run_at_once(
        [
            partial(booking_reschedule, booking_id=b.pk, user_id=b.user_id, slot_id=target.pk)
            for b in bookings
        ]
    )

    assert_overlapped(attempts)
    wins = [a for a in attempts if a.error is None]
    losses = [a for a in attempts if a.error is not None]
    assert len(wins) == 1
    assert len(losses) == 1
    assert getattr(losses[0].error, "reason", None) == "SLOT_NOT_AVAILABLE"
    for b in bookings:
        now_at = Booking.objects.get(pk=b.pk).slot_id
        assert now_at in (b.slot_id, target.pk)
    assert Booking.objects.filter(slot=target).count() == 1


@pytest.mark.parametrize("capacity", [1, 2])
def test_12_3_a_to_b_and_b_to_a_at_once_never_deadlock_into_a_500(db, capacity):
    """Both moves lock both slots in ascending id order, so they queue instead of deadlocking.
    Full slots (capacity 1): each needs the place the other frees, both are refused. With a free
    place on each (capacity 2): both succeed and the bookings swap."""
    slot_a, slot_b = SlotFactory.create_batch(2, capacity=capacity)
    one, two = UserFactory.create_batch(2)
    on_a = booking_create(user_id=one.pk, slot_id=slot_a.pk)
    on_b = booking_create(user_id=two.pk, slot_id=slot_b.pk)

    attempts = run_at_once(
        [
            lambda: booking_reschedule(booking_id=on_a.pk, user_id=one.pk, slot_id=slot_b.pk),
            lambda: booking_reschedule(booking_id=on_b.pk, user_id=two.pk, slot_id=slot_a.pk),
        ]
    )

    assert_overlapped(attempts)
    if capacity == 1:
        assert [getattr(a.error, "reason", a.error) for a in attempts] == [
            "SLOT_NOT_AVAILABLE",
            "SLOT_NOT_AVAILABLE",
        ]
        expected = {on_a.pk: slot_a.pk, on_b.pk: slot_b.pk}
    else:
        assert [a.error for a in attempts] == [None, None]
        expected = {on_a.pk: slot_b.pk, on_b.pk: slot_a.pk}
    assert {b.pk: b.slot_id for b in Booking.objects.all()} == expected
