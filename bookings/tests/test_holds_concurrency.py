"""Holds under real concurrency (SPEC §12.4, §14): a hold and a booking race for the last place;
the control test skips the locks and shows the database itself keeps holds plus bookings within
capacity. Threads with their own connections, released together; invariants in SQL after each."""

from __future__ import annotations

from functools import partial

import pytest
from django.db import IntegrityError

from accounts.tests.factories import UserFactory
from bookings.holds import hold_create
from bookings.models import Booking, BookingStatus, Hold, HoldStatus
from bookings.services import booking_create
from bookings.tests.invariants import assert_booking_invariants
from core.db.transactions import constraint_name
from slotbooking.tests.concurrency import (
    LocksHeld,
    assert_overlapped,
    failed,
    http_call,
    run_at_once,
    succeeded,
)
from slots.errors import SlotNotAvailableError
from slots.locks import slot_lock
from slots.models import Slot
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db(transaction=True)

PLACE_CONSTRAINTS = {
    "slots_held_within_capacity",
    "slots_booked_within_capacity",
    "slots_status_matches_count",
}


def places_taken(slot: Slot) -> int:
    confirmed = Booking.objects.filter(slot=slot, status=BookingStatus.CONFIRMED).count()
    return confirmed + Hold.objects.filter(slot=slot, status=HoldStatus.ACTIVE).count()


@pytest.mark.parametrize("rounds", range(3))
def test_12_4_a_hold_and_a_booking_race_for_the_last_place_one_wins(rounds):
    slot = SlotFactory.create(capacity=2)
    booking_create(user_id=UserFactory.create().pk, slot_id=slot.pk)
    holder, booker = UserFactory.create_batch(2)

    with LocksHeld(lambda: slot_lock(slot_id=slot.pk), release_when_waiting=2) as held:
        attempts = run_at_once(
            [
                partial(hold_create, user_id=holder.pk, slot_id=slot.pk),
                partial(booking_create, user_id=booker.pk, slot_id=slot.pk),
            ]
        )

    assert held.waiters_seen >= 2
    assert_overlapped(attempts)
    assert len(succeeded(attempts)) == 1
    assert [type(e) for e in failed(attempts)] == [SlotNotAvailableError]
    assert places_taken(slot) == 2
    assert_booking_invariants()


def test_12_4_over_http_holds_and_bookings_for_one_last_place(live_server, booking_mode):
    """Five holds and five bookings at once through the server, in both modes: one place."""
    slot = SlotFactory.create()
    users = UserFactory.create_batch(10)

    def call(i, user):
        if i % 2:
            return lambda: http_call(
                "POST", f"{live_server.url}/api/slots/{slot.pk}/holds", user_id=user.pk, body={}
            )
        return lambda: http_call(
            "POST",
            f"{live_server.url}/api/bookings",
            user_id=user.pk,
            body={"slotId": str(slot.pk)},
        )

    attempts = run_at_once([call(i, u) for i, u in enumerate(users)], connect=False)

    assert_overlapped(attempts)
    statuses = sorted(a.result.status for a in attempts)
    assert statuses == [201] + [409] * 9, [a.result.body for a in attempts]
    assert {a.result.reason for a in attempts if a.result.status == 409} == {"SLOT_NOT_AVAILABLE"}
    assert places_taken(slot) == 1
    assert_booking_invariants()


def test_14_control_without_locks_the_database_stops_holds_over_booking(settings):
    # The locks are skipped and a delay keeps every attempt between its checks and its write, so
    # all of them see the last place free. Only PostgreSQL (the hold and booking triggers
    # counting on the slot row, under CHECK booked_count + held_count <= capacity) stands
    # between them and an over-booked slot, and it holds.
    settings.BOOKING_TEST_SKIP_LOCKS = True
    settings.BOOKING_TEST_DELAY_BEFORE_WRITE = 0.3
    slot = SlotFactory.create(capacity=2)
    users = UserFactory.create_batch(6)
    calls = [
        partial(hold_create if i % 2 else booking_create, user_id=user.pk, slot_id=slot.pk)
        for i, user in enumerate(users)
    ]

    attempts = run_at_once(calls)

    assert_overlapped(attempts)
    assert len(succeeded(attempts)) == 2
    assert all(isinstance(error, SlotNotAvailableError) for error in failed(attempts))
    refused = [e for e in failed(attempts) if isinstance(e.__cause__, IntegrityError)]
    assert refused, "every loser was stopped by Python: the race never reached the database"
    names = {constraint_name(e.__cause__) for e in refused if e.__cause__ is not None}
    assert names <= PLACE_CONSTRAINTS
    assert "slots_held_within_capacity" in names
    assert places_taken(slot) == 2
    assert_booking_invariants()
