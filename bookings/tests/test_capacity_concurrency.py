"""Seats and host policies under real concurrency (SPEC §12.1, §12.2, §6.1 G1/G2, §14).

Threads with their own connections are released together; the attempts queue behind row locks
that `LocksHeld` holds until every one of them waits, which proves they reached the locked path
at the same time, and `assert_overlapped` shows they raced. Invariants are checked in SQL after
each scenario. The control test skips the locks and shows the database itself stops over-booking.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest
from django.db import IntegrityError

from accounts.locks import user_lock
from accounts.models import User
from accounts.policies import host_policy_update
from accounts.tests.factories import HostFactory, UserFactory
from bookings.errors import AlreadyBookedError, HostAlreadyBookedError
from bookings.models import Booking, BookingStatus
from bookings.services import booking_create
from bookings.tests.invariants import assert_booking_invariants
from core.db.transactions import constraint_name
from slotbooking.tests.concurrency import (
    LocksHeld,
    assert_overlapped,
    failed,
    run_at_once,
    succeeded,
)
from slots.errors import SlotNotAvailableError
from slots.locks import slot_lock
from slots.models import Slot, SlotStatus
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db(transaction=True)  # threads see only committed rows

CAPACITY_CONSTRAINTS = {"slots_booked_within_capacity", "slots_status_matches_count"}


def book(user: User, slot: Slot) -> Callable[[], Booking]:
    return partial(booking_create, user_id=user.pk, slot_id=slot.pk)


def confirmed(**filters: object) -> int:
    return Booking.objects.filter(status=BookingStatus.CONFIRMED, **filters).count()


def test_14_n_plus_k_guests_racing_for_a_slot_of_capacity_n_get_exactly_n_places():
    capacity, extra = 6, 4
    slot = SlotFactory.create(capacity=capacity)
    guests = UserFactory.create_batch(capacity + extra)

    # Every guest passes the unlocked pre-read (the slot is free) and queues on the slot row.
    with LocksHeld(lambda: slot_lock(slot_id=slot.pk), release_when_waiting=len(guests)) as held:
        attempts = run_at_once([book(guest, slot) for guest in guests])

    assert held.waiters_seen >= len(guests)
    assert_overlapped(attempts)
    assert len(succeeded(attempts)) == capacity
    assert len(failed(attempts)) == extra
    assert all(isinstance(error, SlotNotAvailableError) for error in failed(attempts))
    # The locked re-check decided, not the database: nobody reached the insert to be refused.
    assert not any(isinstance(e.__cause__, IntegrityError) for e in failed(attempts))
    slot.refresh_from_db()
    assert (slot.status, slot.booked_count) == (SlotStatus.BOOKED, capacity)
    assert confirmed(slot=slot) == capacity
    assert_booking_invariants()


def test_14_one_guest_booking_one_slot_of_capacity_five_from_five_threads_gets_one_place():
    slot = SlotFactory.create(capacity=5)
    guest = UserFactory.create()

    # All five wait on the guest's own user row: the lock that serialises one user's bookings.
    with LocksHeld(lambda: user_lock(user_id=guest.pk), release_when_waiting=5):
        attempts = run_at_once([book(guest, slot) for _ in range(5)])

    assert_overlapped(attempts)
    assert len(succeeded(attempts)) == 1
    assert len(failed(attempts)) == 4
    assert all(isinstance(error, AlreadyBookedError) for error in failed(attempts))
    slot.refresh_from_db()
    assert (slot.status, slot.booked_count) == (SlotStatus.AVAILABLE, 1)
    assert_booking_invariants()


def test_14_a_guest_with_a_per_host_limit_of_two_booking_four_slots_at_once_gets_two():
    host = HostFactory.create()
    host_policy_update(host_id=host.pk, max_active_bookings_per_guest=2)
    slots = [SlotFactory.create(host=host) for _ in range(4)]
    guest = UserFactory.create()

    with LocksHeld(lambda: user_lock(user_id=guest.pk), release_when_waiting=4):
        attempts = run_at_once([book(guest, slot) for slot in slots])

    assert_overlapped(attempts)
    assert len(succeeded(attempts)) == 2
    assert len(failed(attempts)) == 2
    assert all(isinstance(error, HostAlreadyBookedError) for error in failed(attempts))
    assert {str(error) for error in failed(attempts)} == {
        "You have reached the maximum of 2 active bookings with this host"
    }
    assert confirmed(user=guest, slot__host=host) == 2
    assert_booking_invariants()


def test_14_control_without_locks_the_database_stops_the_capacity_race(settings):
    # The locks are skipped and a delay keeps every guest between its checks and its insert, so
    # all of them pass the Python checks on a slot with places left. Only PostgreSQL (the booking
    # trigger counting on the slot row, and the slot's CHECKs) stands between them and an
    # over-booked slot, and it holds: never more bookings than places.
    settings.BOOKING_TEST_SKIP_LOCKS = True
    settings.BOOKING_TEST_DELAY_BEFORE_WRITE = 0.3
    capacity = 3
    slot = SlotFactory.create(capacity=capacity)
    guests = UserFactory.create_batch(8)

    attempts = run_at_once([book(guest, slot) for guest in guests])

    assert_overlapped(attempts)
    assert len(succeeded(attempts)) == capacity
    assert all(isinstance(error, SlotNotAvailableError) for error in failed(attempts))
    refused = [e.__cause__ for e in failed(attempts) if isinstance(e.__cause__, IntegrityError)]
    assert refused, "every loser was stopped by Python: the race never reached the database"
    assert {constraint_name(cause) for cause in refused} <= CAPACITY_CONSTRAINTS
    slot.refresh_from_db()
    assert (slot.status, slot.booked_count) == (SlotStatus.BOOKED, capacity)
    assert confirmed(slot=slot) == capacity
    assert_booking_invariants()
