"""SPEC §6.1 G5 and G6 for slots under real concurrency: threads with their own connections.

Slot creation is too quick to overlap reliably on its own, so the attempts queue behind the host's
user row, held by `LocksHeld` until all of them wait for it: they are then released together and
decided one after the other, which is exactly the race G5 is about.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

import pytest
from django.db import IntegrityError

from accounts.locks import user_lock
from accounts.models import User
from accounts.tests.factories import HostFactory, UserFactory
from bookings.models import Booking
from bookings.services import booking_cancel, booking_create
from bookings.tests.invariants import assert_booking_invariants
from core.db.instants import now_ms
from core.errors import LockTimeoutError
from slotbooking.tests.concurrency import (
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
from slots.services import (
    PlannedSlot,
    SlotDeletion,
    slot_bulk_create,
    slot_create,
    slot_delete,
    slot_update,
)
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db(transaction=True)  # threads see only committed rows

HOUR = timedelta(hours=1)


def tomorrow_at(hour: float) -> datetime:
    midnight = now_ms().replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + timedelta(days=2, hours=hour)


def create(host: User, start: datetime, end: datetime) -> Callable[[], Slot]:
    return partial(slot_create, host_id=host.pk, start_time=start, end_time=end)


def users_locked(*users: User) -> Callable[[], None]:
    """Lock several user rows the way the code base does: ascending id order."""

    def take() -> None:
        for user in sorted(users, key=lambda u: u.pk):
            user_lock(user_id=user.pk)

    return take


def decided_by_the_constraint(error: BaseException) -> bool:
    return isinstance(error.__cause__, IntegrityError)


# G5: overlapping creations by one host ------------------------------------------------------------
def test_two_overlapping_slot_creations_by_one_host_at_once_give_one_slot_and_one_overlap():
    host = HostFactory.create()
    calls = [
        create(host, tomorrow_at(10), tomorrow_at(11)),
        create(host, tomorrow_at(10.5), tomorrow_at(11.5)),
    ]

    with LocksHeld(users_locked(host), release_when_waiting=2) as held:
        attempts = run_at_once(calls)

    assert held.waiters_seen >= 2
    assert_overlapped(attempts)
    assert len(succeeded(attempts)) == 1
    assert [type(error) for error in failed(attempts)] == [SlotOverlapError]
    # The locked check decided; the exclusion constraint (the backstop) was never reached.
    assert not decided_by_the_constraint(failed(attempts)[0])
    assert Slot.objects.filter(host=host).count() == 1
    assert_booking_invariants()


def test_five_identical_slot_creations_by_one_host_at_once_give_exactly_one_slot():
    host = HostFactory.create()
    calls = [create(host, tomorrow_at(10), tomorrow_at(11)) for _ in range(5)]

    with LocksHeld(users_locked(host), release_when_waiting=5):
        attempts = run_at_once(calls)

    assert_overlapped(attempts)
    assert len(succeeded(attempts)) == 1
    assert [type(error) for error in failed(attempts)] == [SlotOverlapError] * 4
    assert Slot.objects.filter(host=host).count() == 1
    assert_booking_invariants()


def test_touching_slots_created_by_one_host_at_once_both_succeed():
    # Ranges are half-open: 10-11 and 11-12 do not overlap, even when created together.
    host = HostFactory.create()
    calls = [
        create(host, tomorrow_at(10), tomorrow_at(11)),
        create(host, tomorrow_at(11), tomorrow_at(12)),
    ]

    with LocksHeld(users_locked(host), release_when_waiting=2):
        attempts = run_at_once(calls)

    assert_overlapped(attempts)
    assert failed(attempts) == []
    assert Slot.objects.filter(host=host).count() == 2
    assert_booking_invariants()


def test_slots_of_different_hosts_at_the_same_time_created_at_once_all_succeed():
    hosts = HostFactory.create_batch(5)
    calls = [create(host, tomorrow_at(10), tomorrow_at(11)) for host in hosts]

    with LocksHeld(users_locked(*hosts), release_when_waiting=5):
        attempts = run_at_once(calls)

    assert_overlapped(attempts)
    assert failed(attempts) == []
    assert Slot.objects.count() == 5
    assert_booking_invariants()


def test_a_bulk_creation_racing_an_overlapping_single_creation_gives_one_overlap_error():
    # slot_bulk_create (SPEC §12.6) takes the same host lock as slot_create, so the two are
    # decided one after the other and neither reaches the exclusion constraint.
    host = HostFactory.create()
    planned = [
        PlannedSlot(tomorrow_at(9), tomorrow_at(10)),
        PlannedSlot(tomorrow_at(10), tomorrow_at(11)),
    ]
    calls: list[Callable[[], object]] = [
        partial(slot_bulk_create, host_id=host.pk, slots=planned),
        create(host, tomorrow_at(10.5), tomorrow_at(11.5)),
    ]

    with LocksHeld(users_locked(host), release_when_waiting=2):
        attempts = run_at_once(calls)

    assert_overlapped(attempts)
    assert len(succeeded(attempts)) == 1
    assert [type(error) for error in failed(attempts)] == [SlotOverlapError]
    assert not decided_by_the_constraint(failed(attempts)[0])
    expected = 2 if attempts[0].error is None else 1
    assert Slot.objects.filter(host=host).count() == expected
    assert_booking_invariants()


def test_an_overlap_that_slips_past_the_host_lock_is_refused_by_the_constraint_as_slot_overlap():
    # A writer that forgot the host lock (an admin edit, raw SQL) inserts an overlapping slot
    # and has not committed yet: slot_create's check cannot see it, its insert waits on the
    # exclusion index, and when the other commits, slots_no_overlap must answer SLOT_OVERLAP.
    host = HostFactory.create()

    def unlocked_insert() -> None:
        Slot.objects.create(host=host, start_time=tomorrow_at(10), end_time=tomorrow_at(11))

    with LocksHeld(unlocked_insert, release_when_waiting=1):
        attempts = run_at_once([create(host, tomorrow_at(10.5), tomorrow_at(11.5))])

    (error,) = failed(attempts)
    assert isinstance(error, SlotOverlapError)
    assert decided_by_the_constraint(error)  # the backstop decided, and it is still a 409
    assert Slot.objects.filter(host=host).count() == 1
    assert_booking_invariants()


def test_moving_a_slot_onto_a_range_being_created_at_once_gives_one_overlap_error():
    # slot_update (the admin's edit, SPEC §10.1) takes the host lock too, so it and slot_create
    # are decided one after the other.
    host = HostFactory.create()
    slot = slot_create(host_id=host.pk, start_time=tomorrow_at(8), end_time=tomorrow_at(9))
    calls: list[Callable[[], object]] = [
        partial(slot_update, slot_id=slot.pk, start_time=tomorrow_at(10), end_time=tomorrow_at(11)),
        create(host, tomorrow_at(10.5), tomorrow_at(11.5)),
    ]

    with LocksHeld(users_locked(host), release_when_waiting=2):
        attempts = run_at_once(calls)

    assert_overlapped(attempts)
    assert len(succeeded(attempts)) == 1
    assert [type(error) for error in failed(attempts)] == [SlotOverlapError]
    assert not decided_by_the_constraint(failed(attempts)[0])
    assert_booking_invariants()


# Deletion racing bookings -------------------------------------------------------------------------
def test_deleting_a_slot_while_a_guest_books_it_gives_exactly_one_winner():
    slot = SlotFactory.create()
    guest = UserFactory.create()
    calls: list[Callable[[], object]] = [
        partial(slot_delete, user_id=slot.host_id, slot_id=slot.pk),
        partial(booking_create, user_id=guest.pk, slot_id=slot.pk),
    ]

    with LocksHeld(partial(slot_lock, slot_id=slot.pk), release_when_waiting=2):
        attempts = run_at_once(calls)

    assert_overlapped(attempts)
    deletion, booking = attempts
    if deletion.error is None:  # deleted first: the booking finds no slot
        assert deletion.result == SlotDeletion.DELETED
        assert isinstance(booking.error, SlotNotFoundError)
        assert not Slot.objects.filter(pk=slot.pk).exists()
        assert not Booking.objects.exists()
    else:  # booked first: the slot now has a booking and stays
        assert isinstance(deletion.error, SlotHasBookingError)
        assert booking.error is None
        assert Slot.objects.get(pk=slot.pk).status == SlotStatus.BOOKED
    assert_booking_invariants()


def test_deleting_a_slot_with_history_while_a_guest_books_it_gives_exactly_one_winner():
    # A slot whose only booking was cancelled is cancelled, not deleted (SPEC §2.6): a booking
    # that loses the race must then see SLOT_NOT_AVAILABLE, never a booking on a cancelled slot.
    slot = SlotFactory.create()
    first_guest, guest = UserFactory.create_batch(2)
    old = booking_create(user_id=first_guest.pk, slot_id=slot.pk)
    booking_cancel(actor_id=first_guest.pk, booking_id=old.pk)
    calls: list[Callable[[], object]] = [
        partial(slot_delete, user_id=slot.host_id, slot_id=slot.pk),
        partial(booking_create, user_id=guest.pk, slot_id=slot.pk),
    ]

    with LocksHeld(partial(slot_lock, slot_id=slot.pk), release_when_waiting=2):
        attempts = run_at_once(calls)

    assert_overlapped(attempts)
    deletion, booking = attempts
    slot.refresh_from_db()
    if deletion.error is None:
        assert deletion.result == SlotDeletion.CANCELLED
        assert isinstance(booking.error, SlotNotAvailableError)
        assert slot.status == SlotStatus.CANCELLED
    else:
        assert isinstance(deletion.error, SlotHasBookingError)
        assert booking.error is None
        assert slot.status == SlotStatus.BOOKED
    assert_booking_invariants()


# G6: bounded lock waits ---------------------------------------------------------------------------
def test_a_slot_creation_waiting_longer_than_the_lock_timeout_gets_lock_timeout_and_writes_nothing(
    settings,
):
    settings.BOOKING_LOCK_TIMEOUT = 0.5
    host = HostFactory.create()

    with LocksHeld(users_locked(host)), pytest.raises(LockTimeoutError):
        slot_create(host_id=host.pk, start_time=tomorrow_at(10), end_time=tomorrow_at(11))

    assert not Slot.objects.exists()
