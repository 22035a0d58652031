"""The booking rules and their order, at the service: no HTTP, one row per rule.

Each row breaks its rule and every rule after it, and keeps every rule before it: the first
broken rule must be the answer, so swapping two checks in booking_create fails a row.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from accounts.tests.factories import HostFactory, UserFactory
from bookings.errors import (
    BookingOwnSlotError,
    HostAlreadyBookedError,
    MaxActiveBookingsError,
    SlotInPastError,
)
from bookings.models import Booking, BookingEvent
from bookings.services import booking_create
from core.db.instants import now_ms
from slots.errors import SlotNotAvailableError, SlotNotFoundError
from slots.models import Slot
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db

# The order the API answers in; each rule is a condition a row can break.
RULES = ("full", "past", "own", "max_active", "same_host")

TABLE = [
    # broken rules                                     expected error
    # A caller booking their own slot cannot also hold another booking with that host.
    ({"full", "past", "own", "max_active"}, SlotNotAvailableError),
    ({"past", "own", "max_active"}, SlotInPastError),
    ({"past", "max_active", "same_host"}, SlotInPastError),
    ({"own", "max_active"}, BookingOwnSlotError),
    ({"max_active", "same_host"}, MaxActiveBookingsError),
    ({"max_active"}, MaxActiveBookingsError),
    ({"same_host"}, HostAlreadyBookedError),
    (set(), None),
]


def arrange(broken: set[str], settings) -> tuple:
    """A caller and a target slot that break exactly the rules in `broken`."""
    host = HostFactory.create()
    target = SlotFactory.create(host=host)
    caller = host if "own" in broken else UserFactory.create()
    if "same_host" in broken:
        booking_create(user_id=caller.pk, slot_id=SlotFactory.create(host=host).pk)
    if "max_active" in broken and "same_host" not in broken:
        booking_create(user_id=caller.pk, slot_id=SlotFactory.create().pk)
    active = Booking.objects.filter(user=caller, status="CONFIRMED").count()
    settings.MAX_ACTIVE_BOOKINGS = active if "max_active" in broken else 5
    if "full" in broken:
        booking_create(user_id=UserFactory.create().pk, slot_id=target.pk)
    if "past" in broken:
        start = now_ms().replace(microsecond=0) - timedelta(days=400)
        Slot.objects.filter(pk=target.pk).update(
            start_time=start, end_time=start + timedelta(hours=1)
        )
    return caller, target


@pytest.mark.parametrize(
    ("broken", "expected"),
    TABLE,
    ids=[f"{'+'.join(r for r in RULES if r in b) or 'none'}" for b, _ in TABLE],
)
def test_the_first_broken_rule_is_the_answer(broken, expected, settings):
    caller, target = arrange(broken, settings)
    bookings, events = Booking.objects.count(), BookingEvent.objects.count()

    if expected is None:
        booking = booking_create(user_id=caller.pk, slot_id=target.pk)
        assert booking.status == "CONFIRMED"
        return
    with pytest.raises(expected):  # exactly this class: the DomainError subclasses are disjoint
        booking_create(user_id=caller.pk, slot_id=target.pk)
    assert (Booking.objects.count(), BookingEvent.objects.count()) == (bookings, events)


def test_the_table_covers_every_rule_first():
    firsts = {next(r for r in RULES if r in broken) for broken, _ in TABLE if broken}
    assert firsts == set(RULES)


def test_a_missing_slot_comes_before_every_rule():
    import uuid

    with pytest.raises(SlotNotFoundError):
        booking_create(user_id=UserFactory.create().pk, slot_id=uuid.uuid4())
