"""SPEC §6.1 guarantees under real concurrency: threads with their own connections."""

from __future__ import annotations

from functools import partial

import pytest

from accounts.tests.factories import UserFactory
from bookings.models import Booking, BookingStatus
from bookings.services import booking_create
from bookings.tests.invariants import assert_booking_invariants
from slotbooking.tests.concurrency import assert_overlapped, run_at_once
from slots.errors import SlotNotAvailableError
from slots.models import Slot, SlotStatus
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db(transaction=True)  # threads see only committed rows


def test_ten_guests_booking_one_slot_at_once_get_exactly_one_booking(settings):
    # The delay keeps the winner inside its transaction while the others queue on the lock.
    settings.BOOKING_TEST_DELAY_BEFORE_WRITE = 0.2
    slot = SlotFactory.create()
    guests = UserFactory.create_batch(10)

    attempts = run_at_once([partial(booking_create, user_id=g.pk, slot_id=slot.pk) for g in guests])

    assert_overlapped(attempts)
    assert [a.error for a in attempts].count(None) == 1
    assert all(isinstance(a.error, SlotNotAvailableError) for a in attempts if a.error)
    assert Booking.objects.filter(slot=slot, status=BookingStatus.CONFIRMED).count() == 1
    assert Slot.objects.get(pk=slot.pk).status == SlotStatus.BOOKED
    assert_booking_invariants()
