"""SPEC §6.1 guarantees G1, G2, G3, G4, G6 under real concurrency, plus the control tests of §14.

Every attempt runs in a thread with its own connection; the threads are released together by a
barrier and `assert_overlapped` shows they really raced. Where an operation is too quick to
overlap reliably, the attempts queue behind row locks that `LocksHeld` holds until they all wait
(which proves they reached the locked path), or the test-only delay keeps winners inside their
transaction. After each scenario the invariants of §2.4 are checked in SQL.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from django.db import IntegrityError

from accounts.locks import user_lock
from accounts.models import User
from accounts.tests.factories import HostFactory, UserFactory
from bookings.errors import (
    BookingAlreadyCancelledError,
    HostAlreadyBookedError,
    MaxActiveBookingsError,
)
from bookings.models import Booking, BookingStatus
from bookings.services import booking_cancel, booking_create
from bookings.tests.factories import BookingFactory
from bookings.tests.invariants import assert_booking_invariants
from core.db.instants import now_ms
from core.db.transactions import constraint_name
from core.errors import LockTimeoutError
from slotbooking.tests.concurrency import (
    Latch,
    LocksHeld,
    assert_overlapped,
    failed,
    run_at_once,
    succeeded,
)
from slots.errors import (
    SlotHasBookingError,
    SlotNotAvailableError,
    SlotNotFoundError,
    SlotOverlapError,
)
from slots.locks import slot_lock
from slots.models import Slot, SlotStatus
from slots.services import slot_create, slot_delete
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db(transaction=True)  # threads see only committed rows

HOUR = timedelta(hours=1)
CAPACITY_CONSTRAINTS = {"slots_booked_within_capacity", "slots_status_matches_count"}


def slots_of_distinct_hosts(count: int) -> list[Slot]:
    return [SlotFactory.create() for _ in range(count)]


def slot_locks(*slots: Slot) -> Callable[[], None]:
    """Lock several slots the way the code base does: ascending id order."""

    def take() -> None:
        for slot in sorted(slots, key=lambda s: s.pk):
            slot_lock(slot_id=slot.pk)

    return take


def decided_by_the_constraint(error: BaseException | None) -> bool:
    """The error came from the database constraint at insert time, not from a Python check."""
    return isinstance(error, SlotNotAvailableError) and isinstance(error.__cause__, IntegrityError)


def confirmed(**filters: Any) -> int:
    return Booking.objects.filter(status=BookingStatus.CONFIRMED, **filters).count()


# G1: one slot, many guests -----------------------------------------------------------------------
def test_ten_guests_booking_one_slot_at_once_get_exactly_one_booking(settings):
    # The delay keeps the winner inside its transaction while the others queue on the lock.
    settings.BOOKING_TEST_DELAY_BEFORE_WRITE = 0.2
    slot = SlotFactory.create()
    guests = UserFactory.create_batch(10)

    attempts = run_at_once(
        [partial(BookingFactory.create, user=guest, slot=slot) for guest in guests]
    )

    assert_overlapped(attempts)
    assert len(succeeded(attempts)) == 1
    assert len(failed(attempts)) == 9
    assert all(isinstance(error, SlotNotAvailableError) for error in failed(attempts))
    # The locked re-check decided, not the CHECK constraint: nobody got as far as the insert.
    assert not any(decided_by_the_constraint(error) for error in failed(attempts))
    assert confirmed(slot=slot) == 1
    assert Slot.objects.get(pk=slot.pk).status == SlotStatus.BOOKED
    assert_booking_invariants()


def test_ten_guests_queued_on_the_slot_lock_get_exactly_one_booking_from_the_locked_recheck():
    slot = SlotFactory.create()
    guests = UserFactory.create_batch(10)

    # All ten pass the unlocked pre-read (the slot is free) and queue on the slot row.
    with LocksHeld(slot_locks(slot), release_when_waiting=10) as held:
        attempts = run_at_once(
            [partial(BookingFactory.create, user=guest, slot=slot) for guest in guests]
        )

    assert held.waiters_seen >= 10
    assert_overlapped(attempts)
    assert len(succeeded(attempts)) == 1
    assert all(isinstance(error, SlotNotAvailableError) for error in failed(attempts))
    assert len(failed(attempts)) == 9
    assert not any(decided_by_the_constraint(error) for error in failed(attempts))
    assert confirmed(slot=slot) == 1
    assert Slot.objects.get(pk=slot.pk).status == SlotStatus.BOOKED
    assert_booking_invariants()


def test_twenty_guests_on_five_slots_of_one_host_get_exactly_one_booking_per_slot():
    host = HostFactory.create()
    slots = [SlotFactory.create(host=host) for _ in range(5)]
    guests = UserFactory.create_batch(20)

    with LocksHeld(slot_locks(*slots), release_when_waiting=20):
        attempts = run_at_once(
            [
                partial(BookingFactory.create, user=guest, slot=slots[i % 5])
                for i, guest in enumerate(guests)
            ]
        )

    assert_overlapped(attempts)
    bookings = succeeded(attempts)
    assert len(bookings) == 5
    assert sorted(b.slot_id for b in bookings) == sorted(s.pk for s in slots)
    assert len(failed(attempts)) == 15
    assert all(isinstance(error, SlotNotAvailableError) for error in failed(attempts))
    for slot in slots:
        assert confirmed(slot=slot) == 1
        assert Slot.objects.get(pk=slot.pk).status == SlotStatus.BOOKED
    assert_booking_invariants()


# G3: different slots never conflict ---------------------------------------------------------------
def test_twenty_guests_booking_twenty_different_slots_at_once_all_succeed(settings):
    # Every winner sleeps inside its transaction with its locks held: the twenty transactions
    # are open at the same time, and none may fail because of another (no false conflicts).
    settings.BOOKING_TEST_DELAY_BEFORE_WRITE = 0.2
    slots = slots_of_distinct_hosts(20)
    guests = UserFactory.create_batch(20)

    attempts = run_at_once(
        [partial(BookingFactory.create, user=g, slot=s) for g, s in zip(guests, slots, strict=True)]
    )

    assert_overlapped(attempts)
    assert failed(attempts) == []
    assert confirmed() == 20
    assert set(Slot.objects.values_list("status", flat=True)) == {SlotStatus.BOOKED}
    assert_booking_invariants()


# G2: per-user limits ------------------------------------------------------------------------------
def test_one_guest_booking_six_slots_of_six_hosts_at_once_gets_exactly_five(settings):
    settings.MAX_ACTIVE_BOOKINGS = 5
    guest = UserFactory.create()
    slots = slots_of_distinct_hosts(6)

    # The slot locks cannot help here (six different slots): the guest's user row must.
    with LocksHeld(partial(user_lock, user_id=guest.pk), release_when_waiting=6):
        attempts = run_at_once(
            [partial(BookingFactory.create, user=guest, slot=slot) for slot in slots]
        )

    assert_overlapped(attempts)
    assert len(succeeded(attempts)) == 5
    assert len(failed(attempts)) == 1
    assert isinstance(failed(attempts)[0], MaxActiveBookingsError)
    assert confirmed(user=guest) == 5
    assert_booking_invariants()


def test_one_guest_booking_two_slots_of_one_host_at_once_gets_exactly_one():
    guest = UserFactory.create()
    host = HostFactory.create()
    slots = [SlotFactory.create(host=host) for _ in range(2)]

    with LocksHeld(partial(user_lock, user_id=guest.pk), release_when_waiting=2):
        attempts = run_at_once(
            [partial(BookingFactory.create, user=guest, slot=slot) for slot in slots]
        )

    assert_overlapped(attempts)
    assert len(succeeded(attempts)) == 1
    assert [type(error) for error in failed(attempts)] == [HostAlreadyBookedError]
    assert confirmed(user=guest) == 1
    assert_booking_invariants()


def test_one_guest_booking_six_slots_freely_at_once_still_gets_exactly_five(settings):
    # Same race without a gate: the delay keeps each winner in its transaction.
    settings.MAX_ACTIVE_BOOKINGS = 5
    settings.BOOKING_TEST_DELAY_BEFORE_WRITE = 0.1
    guest = UserFactory.create()
    slots = slots_of_distinct_hosts(6)

    attempts = run_at_once(
        [partial(BookingFactory.create, user=guest, slot=slot) for slot in slots]
    )

    assert_overlapped(attempts)
    assert len(succeeded(attempts)) == 5
    assert [type(error) for error in failed(attempts)] == [MaxActiveBookingsError]
    assert_booking_invariants()


# G4: cancellations --------------------------------------------------------------------------------
def test_two_cancels_of_one_booking_at_once_exactly_one_succeeds():
    guest = UserFactory.create()
    slot = SlotFactory.create()
    booking = booking_create(user_id=guest.pk, slot_id=slot.pk)
    cancel = partial(booking_cancel, actor_id=guest.pk, booking_id=booking.pk)

    with LocksHeld(slot_locks(slot), release_when_waiting=2):
        attempts = run_at_once([cancel, cancel])

    assert_overlapped(attempts)
    assert len(succeeded(attempts)) == 1
    assert [type(error) for error in failed(attempts)] == [BookingAlreadyCancelledError]
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    slot.refresh_from_db()
    assert (slot.status, slot.booked_count) == (SlotStatus.AVAILABLE, 0)
    assert_booking_invariants()


def test_cancels_racing_rebookings_of_the_same_slot_leave_exactly_one_confirmed_booking():
    # The stale double cancel of SPEC §13.2.5: while the guest cancels twice, others (and the
    # guest) keep trying to book the slot. A re-booking may land between the two cancels; the
    # second cancel must then fail instead of freeing the new booking's place.
    guest = UserFactory.create()
    slot = SlotFactory.create()
    booking = booking_create(user_id=guest.pk, slot_id=slot.pk)
    rebookers = [guest, *UserFactory.create_batch(3)]
    started = Latch(2 + len(rebookers))  # every participant is running...
    tried = Latch(len(rebookers))  # ...and every re-booker has seen the slot taken
    cancels_over = threading.Barrier(2)
    both_cancelled = threading.Event()
    rebook_errors: list[BaseException] = []

    def cancel() -> Booking:
        started.count_down()
        started.wait()
        tried.wait()
        try:
            return booking_cancel(actor_id=guest.pk, booking_id=booking.pk)
        finally:
            cancels_over.wait(timeout=30)
            both_cancelled.set()

    def rebook(user: User) -> Booking:
        started.count_down()
        first = True
        while True:
            last_round = both_cancelled.is_set()  # one more try once both cancels are over
            try:
                return booking_create(user_id=user.pk, slot_id=slot.pk)
            except SlotNotAvailableError as error:
                rebook_errors.append(error)
                if last_round:
                    raise
            finally:
                if first:
                    tried.count_down()
                    first = False

    attempts = run_at_once([cancel, cancel, *(partial(rebook, user) for user in rebookers)])

    assert_overlapped(attempts)
    cancels, rebooks = attempts[:2], attempts[2:]
    assert len(succeeded(cancels)) == 1
    assert [type(error) for error in failed(cancels)] == [BookingAlreadyCancelledError]
    assert len(succeeded(rebooks)) == 1
    assert all(isinstance(error, SlotNotAvailableError) for error in failed(rebooks))
    assert all(isinstance(error, SlotNotAvailableError) for error in rebook_errors)
    (rebooked,) = succeeded(rebooks)
    statuses = sorted(Booking.objects.filter(slot=slot).values_list("pk", "status"))
    assert statuses == sorted([(booking.pk, "CANCELLED"), (rebooked.pk, "CONFIRMED")])
    slot.refresh_from_db()
    assert (slot.status, slot.booked_count) == (SlotStatus.BOOKED, 1)
    assert_booking_invariants()


# G6: bounded lock waits ---------------------------------------------------------------------------
def test_a_booking_waiting_longer_than_the_lock_timeout_gets_lock_timeout_and_writes_nothing(
    settings,
):
    settings.BOOKING_LOCK_TIMEOUT = 0.5
    slot = SlotFactory.create()
    guest = UserFactory.create()

    # The holder keeps the slot locked until the booking has given up: no sleeps, no guessing.
    with LocksHeld(slot_locks(slot)), pytest.raises(LockTimeoutError):
        booking_create(user_id=guest.pk, slot_id=slot.pk)

    assert not Booking.objects.exists()
    slot.refresh_from_db()
    assert (slot.status, slot.booked_count) == (SlotStatus.AVAILABLE, 0)
    assert_booking_invariants()


def test_a_cancel_waiting_longer_than_the_lock_timeout_gets_lock_timeout_and_changes_nothing(
    settings,
):
    settings.BOOKING_LOCK_TIMEOUT = 0.5
    slot = SlotFactory.create()
    guest = UserFactory.create()
    booking = booking_create(user_id=guest.pk, slot_id=slot.pk)

    with LocksHeld(slot_locks(slot)), pytest.raises(LockTimeoutError):
        booking_cancel(actor_id=guest.pk, booking_id=booking.pk)

    booking.refresh_from_db()
    assert (booking.status, booking.cancelled_at) == (BookingStatus.CONFIRMED, None)
    slot.refresh_from_db()
    assert (slot.status, slot.booked_count) == (SlotStatus.BOOKED, 1)
    assert_booking_invariants()


# Control tests: the harness sees the races when the locked re-check is bypassed -----------------
def test_control_without_locks_one_guest_booking_six_slots_at_once_overbooks(settings):
    settings.BOOKING_TEST_SKIP_LOCKS = True
    settings.BOOKING_TEST_DELAY_BEFORE_WRITE = 0.3
    settings.MAX_ACTIVE_BOOKINGS = 5
    guest = UserFactory.create()
    slots = slots_of_distinct_hosts(6)

    attempts = run_at_once(
        [partial(BookingFactory.create, user=guest, slot=slot) for slot in slots]
    )

    assert_overlapped(attempts)
    assert len(succeeded(attempts)) > 5, "no over-booking: the harness cannot see this race"
    assert confirmed(user=guest) > 5
    with pytest.raises(AssertionError, match="MAX_ACTIVE_BOOKINGS"):
        assert_booking_invariants()


def test_control_without_locks_one_guest_gets_two_bookings_with_one_host(settings):
    settings.BOOKING_TEST_SKIP_LOCKS = True
    settings.BOOKING_TEST_DELAY_BEFORE_WRITE = 0.3
    guest = UserFactory.create()
    host = HostFactory.create()
    slots = [SlotFactory.create(host=host) for _ in range(2)]

    attempts = run_at_once(
        [partial(BookingFactory.create, user=guest, slot=slot) for slot in slots]
    )

    assert_overlapped(attempts)
    assert len(succeeded(attempts)) == 2, "no double booking: the harness cannot see this race"
    assert confirmed(user=guest, slot__host=host) == 2
    with pytest.raises(AssertionError, match="two active bookings on one host"):
        assert_booking_invariants()


def test_control_without_locks_the_capacity_race_reaches_the_insert_and_the_constraint_stops_it(
    settings,
):
    # A slot cannot be over-booked even without locks: the trigger and CHECKs of §2.4 hold. The
    # race is still real: several guests pass every Python check and only the database rejects
    # them, which the cause of their error shows (the locked tests above assert the opposite).
    settings.BOOKING_TEST_SKIP_LOCKS = True
    settings.BOOKING_TEST_DELAY_BEFORE_WRITE = 0.3
    slot = SlotFactory.create()
    guests = UserFactory.create_batch(10)

    attempts = run_at_once(
        [partial(BookingFactory.create, user=guest, slot=slot) for guest in guests]
    )

    assert_overlapped(attempts)
    assert len(succeeded(attempts)) == 1
    assert all(isinstance(error, SlotNotAvailableError) for error in failed(attempts))
    stopped_by_constraint = [e for e in failed(attempts) if decided_by_the_constraint(e)]
    reached_insert = 1 + len(stopped_by_constraint)
    assert reached_insert > 1, "only the winner reached the insert: no race to see"
    names = {constraint_name(e.__cause__) for e in stopped_by_constraint if e.__cause__}
    assert names <= CAPACITY_CONSTRAINTS
    assert confirmed(slot=slot) == 1
    assert_booking_invariants()


# Deadlock freedom ---------------------------------------------------------------------------------
EXPECTED_REFUSALS = (
    SlotNotAvailableError,
    SlotNotFoundError,
    SlotHasBookingError,
    SlotOverlapError,
    MaxActiveBookingsError,
    HostAlreadyBookedError,
    BookingAlreadyCancelledError,
)


def test_mixed_bookings_cancels_and_slot_changes_at_once_never_deadlock_or_time_out(
    settings, caplog
):
    settings.BOOKING_TEST_DELAY_BEFORE_WRITE = 0.01  # longer lock holds, more interleavings
    hosts = HostFactory.create_batch(3)
    slots = [SlotFactory.create(host=host) for host in hosts for _ in range(2)]
    guests = UserFactory.create_batch(4)
    operations = 15
    far_future = now_ms().replace(minute=0, second=0, microsecond=0) + timedelta(days=30)

    def guest_session(user: User, seed: int) -> list[str]:
        rng = random.Random(seed)
        outcomes = []
        for _ in range(operations):
            mine = list(
                Booking.objects.filter(user=user, status=BookingStatus.CONFIRMED).values_list(
                    "pk", flat=True
                )
            )
            try:
                if mine and rng.random() < 0.4:
                    booking_cancel(actor_id=user.pk, booking_id=rng.choice(mine))
                    outcomes.append("cancelled")
                else:
                    booking_create(user_id=user.pk, slot_id=rng.choice(slots).pk)
                    outcomes.append("booked")
            except EXPECTED_REFUSALS as error:
                outcomes.append(error.reason)
        return outcomes

    def host_session(host: User, seed: int) -> list[str]:
        # A host books other hosts' slots, deletes its own, and publishes new ones.
        rng = random.Random(seed)
        own = [s.pk for s in slots if s.host_id == host.pk]
        others = [s.pk for s in slots if s.host_id != host.pk]
        outcomes = []
        for n in range(operations):
            choice = rng.random()
            try:
                if choice < 0.4:
                    booking_create(user_id=host.pk, slot_id=rng.choice(others))
                    outcomes.append("booked")
                elif choice < 0.6:
                    slot_delete(user_id=host.pk, slot_id=rng.choice(own))
                    outcomes.append("deleted")
                else:
                    start = far_future + (n % 4) * HOUR  # repeats overlap: SLOT_OVERLAP
                    own.append(
                        slot_create(host_id=host.pk, start_time=start, end_time=start + HOUR).pk
                    )
                    outcomes.append("created")
            except EXPECTED_REFUSALS as error:
                outcomes.append(error.reason)
        return outcomes

    calls: list[Callable[[], list[str]]] = [
        partial(guest_session, guest, seed) for seed, guest in enumerate(guests * 2)
    ]
    calls += [partial(host_session, host, 100 + seed) for seed, host in enumerate(hosts)]
    with caplog.at_level(logging.WARNING, logger="core.db.transactions"):
        attempts = run_at_once(calls)

    assert_overlapped(attempts)
    assert failed(attempts) == [], "an operation failed in an unexpected way"
    outcomes = [outcome for result in succeeded(attempts) for outcome in result]
    assert "booked" in outcomes
    assert "cancelled" in outcomes
    # A deadlock would be retried silently by in_service_transaction, but it logs a warning.
    retried = [r for r in caplog.records if r.name == "core.db.transactions"]
    assert retried == [], f"deadlocks or serialization failures: {retried}"
    assert_booking_invariants()
