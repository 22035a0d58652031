"""booking_create (one SQL function under the locks) against the booking rules written out in
plain Python, over randomized worlds: users, hosts, slots of several capacities in the past, soon
and far ahead, host policies, existing bookings and holds (active, lapsed, used), and requests
with and without a hold. Every request must get the same outcome, with the same reason and
message, as the reference rules give on the same committed state; a success must write what a
booking writes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import pytest

from accounts.models import HostPolicy, User
from accounts.policies import duration_text
from accounts.tests.factories import HostFactory, UserFactory
from bookings.invariants import CHECKS, invariant_offenders
from bookings.models import Booking, BookingEvent, BookingStatus, Hold, HoldStatus
from bookings.services import booking_create
from core.db.instants import now_ms
from core.errors import DomainError
from slots.models import Slot, SlotStatus

pytestmark = pytest.mark.django_db(transaction=True)

BOOKED = "BOOKED"


@dataclass(frozen=True)
class Expected:
    reason: str  # BOOKED or the error's reason
    message: str | None = None


def _free_places(slot: Slot, active_holds: int) -> int:
    if slot.status != SlotStatus.AVAILABLE:
        return 0
    return max(slot.capacity - slot.booked_count - active_holds, 0)


def reference_outcome(
    *, user_id: UUID, slot_id: UUID, hold_id: UUID | None, max_active: int, now: datetime
) -> Expected:
    """The booking rules in the order the API answers them, read from the committed state."""
    slot = Slot.objects.filter(pk=slot_id).first()
    active_holds = (
        Hold.objects.filter(slot_id=slot_id, status=HoldStatus.ACTIVE, expires_at__gt=now).count()
        if slot is not None
        else 0
    )
    if hold_id is None:  # the unlocked pre-read
        if slot is None:
            return Expected("SLOT_NOT_FOUND", "Slot not found")
        if _free_places(slot, active_holds) == 0:
            return Expected("SLOT_NOT_AVAILABLE", "Slot is no longer available")
    if not User.objects.filter(pk=user_id).exists():
        return Expected("USER_NOT_FOUND")
    if slot is None:
        return Expected("SLOT_NOT_FOUND", "Slot not found")
    if hold_id is not None:
        hold = Hold.objects.filter(pk=hold_id, user_id=user_id).first()
        if hold is None:
            return Expected("HOLD_NOT_FOUND")
        if hold.slot_id != slot_id:
            return Expected("HOLD_SLOT_MISMATCH")
        if not (hold.status == HoldStatus.ACTIVE and hold.expires_at > now):
            return Expected("HOLD_EXPIRED")
    own_hold = 1 if hold_id is not None else 0
    if _free_places(slot, active_holds) + own_hold == 0:
        return Expected("SLOT_NOT_AVAILABLE", "Slot is no longer available")
    if slot.start_time <= now:
        return Expected("SLOT_IN_PAST", "Cannot book a slot in the past")
    if slot.host_id == user_id:
        return Expected("BOOKING_OWN_SLOT", "You cannot book your own slot")
    mine = Booking.objects.filter(user_id=user_id, status=BookingStatus.CONFIRMED)
    if mine.filter(slot_id=slot_id).exists():
        return Expected("ALREADY_BOOKED", "You already have a booking for this slot")
    policy = HostPolicy.objects.filter(host_id=slot.host_id).first()
    min_notice = policy.min_notice_minutes if policy else 0
    horizon = policy.max_horizon_days if policy else None
    per_guest = policy.max_active_bookings_per_guest if policy else 1
    if slot.start_time < now + timedelta(minutes=min_notice):
        text = duration_text(min_notice)
        return Expected(
            "BOOKING_NOTICE_TOO_SHORT", f"This host requires bookings at least {text} in advance"
        )
    if horizon is not None and slot.start_time > now + timedelta(days=horizon):
        return Expected(
            "BOOKING_BEYOND_HORIZON",
            f"This host accepts bookings at most {horizon} day(s) in advance",
        )
    upcoming = mine.filter(slot__start_time__gt=now)
    if upcoming.count() >= max_active:
        return Expected(
            "MAX_ACTIVE_BOOKINGS", f"You have reached the maximum of {max_active} active bookings"
        )
    if upcoming.filter(slot__host_id=slot.host_id).count() >= per_guest:
        if per_guest == 1:
            return Expected(
                "HOST_ALREADY_BOOKED", "You already have an active booking with this host"
            )
        return Expected(
            "HOST_ALREADY_BOOKED",
            f"You have reached the maximum of {per_guest} active bookings with this host",
        )
    return Expected(BOOKED)


# Offsets from now, in minutes, kept well away from every boundary the rules compare against
# (the reference and the database read the clock a few milliseconds apart).
START_OFFSETS = [-600, -30, 20, 90, 600, 3 * 1440, 20 * 1440, 45 * 1440]
HOLD_EXPIRY_OFFSETS = [-20, -1, 5, 30]
MIN_NOTICE = [0, 60, 240, 1440]
HORIZONS = [None, 1, 10, 30]
PER_GUEST = [1, 1, 2, 3]


class World:
    """Hosts with policies and slots, guests with bookings and holds, built at random."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        now = now_ms().replace(second=0, microsecond=0)
        self.hosts = [HostFactory.create() for _ in range(4)]
        self.guests = [UserFactory.create() for _ in range(6)]
        for host in self.hosts:
            if rng.random() < 0.75:
                HostPolicy.objects.create(
                    host=host,
                    min_notice_minutes=rng.choice(MIN_NOTICE),
                    max_horizon_days=rng.choice(HORIZONS),
                    cancellation_cutoff_minutes=60,
                    max_active_bookings_per_guest=rng.choice(PER_GUEST),
                    created_at=now,
                    updated_at=now,
                )
        self.slots: list[Slot] = []
        for host in self.hosts:
            for index, offset in enumerate(rng.sample(START_OFFSETS, 5)):
                # A few seconds apart per host, so the host's slots never overlap.
                start = now + timedelta(minutes=offset, seconds=index)
                self.slots.append(
                    Slot.objects.create(
                        host=host,
                        start_time=start,
                        end_time=start + timedelta(seconds=1),
                        capacity=rng.choice([1, 1, 2, 3]),
                    )
                )
        self.holds: list[Hold] = []
        users = self.guests + self.hosts
        for slot in self.slots:
            for user in rng.sample(users, rng.randint(0, 3)):
                slot.refresh_from_db()
                if slot.booked_count + slot.held_count >= slot.capacity:
                    break
                if rng.random() < 0.5:
                    if slot.host_id != user.pk:
                        Booking.objects.create(slot=slot, user=user)
                else:
                    self.holds.append(
                        Hold.objects.create(
                            slot=slot,
                            user=user,
                            created_at=now - timedelta(minutes=30),
                            expires_at=now + timedelta(minutes=rng.choice(HOLD_EXPIRY_OFFSETS)),
                        )
                    )

    def request(self) -> tuple[UUID, UUID, UUID | None]:
        rng = self.rng
        user = rng.choice(self.guests + self.hosts[:1])
        user_id = user.pk if rng.random() > 0.03 else uuid4()
        slot_id = rng.choice(self.slots).pk if rng.random() > 0.05 else uuid4()
        hold_id = None
        roll = rng.random()
        own = [h for h in self.holds if h.user_id == user_id]
        if roll < 0.25 and own:
            hold = rng.choice(own)
            hold_id = hold.pk
            slot_id = hold.slot_id if rng.random() < 0.8 else slot_id
        elif roll < 0.30 and self.holds:
            hold_id = rng.choice(self.holds).pk  # often someone else's
        elif roll < 0.32:
            hold_id = uuid4()
        return user_id, slot_id, hold_id


EVERY_OUTCOME = {
    BOOKED,
    "USER_NOT_FOUND",
    "SLOT_NOT_FOUND",
    "HOLD_NOT_FOUND",
    "HOLD_SLOT_MISMATCH",
    "HOLD_EXPIRED",
    "SLOT_NOT_AVAILABLE",
    "SLOT_IN_PAST",
    "BOOKING_OWN_SLOT",
    "ALREADY_BOOKED",
    "BOOKING_NOTICE_TOO_SHORT",
    "BOOKING_BEYOND_HORIZON",
    "MAX_ACTIVE_BOOKINGS",
    "HOST_ALREADY_BOOKED",
}


def _compare_in_world(seed: int, settings) -> dict[str, int]:
    rng = random.Random(seed)
    settings.MAX_ACTIVE_BOOKINGS = rng.choice([2, 3, 5])
    world = World(rng)
    outcomes: dict[str, int] = {}
    for _ in range(40):
        user_id, slot_id, hold_id = world.request()
        expected = reference_outcome(
            user_id=user_id,
            slot_id=slot_id,
            hold_id=hold_id,
            max_active=settings.MAX_ACTIVE_BOOKINGS,
            now=now_ms(),
        )
        before = Booking.objects.count()
        try:
            booking = booking_create(user_id=user_id, slot_id=slot_id, hold_id=hold_id)
        except DomainError as error:
            got = Expected(error.reason, error.message)
            assert Booking.objects.count() == before, "a refusal wrote a booking"
        else:
            got = Expected(BOOKED)
            stored = Booking.objects.select_related("slot").get(pk=booking.pk)
            assert (stored.user_id, stored.slot_id, stored.status) == (
                user_id,
                slot_id,
                BookingStatus.CONFIRMED,
            )
            assert stored.created_at == booking.created_at
            assert stored.slot.status == booking.slot.status
            assert stored.slot.booked_count == booking.slot.booked_count
            assert BookingEvent.objects.filter(booking_id=booking.pk, action="CREATED").count() == 1
            # The guest keeps no active hold on a slot they booked: used or released.
            assert not Hold.objects.filter(
                slot_id=slot_id, user_id=user_id, status=HoldStatus.ACTIVE
            ).exists()
            if hold_id is not None:
                assert Hold.objects.get(pk=hold_id).status == HoldStatus.CONSUMED
        if expected.message is None:  # the reason is enough where the text is the error's own
            got = Expected(got.reason)
        assert got == expected, (seed, user_id, slot_id, hold_id)
        outcomes[got.reason] = outcomes.get(got.reason, 0) + 1
    # The data invariants (the per-user limits aside: the world may start above them).
    assert {check.code: invariant_offenders(check) for check in CHECKS} == {
        check.code: [] for check in CHECKS
    }, seed
    return outcomes


def test_booking_create_gives_what_the_reference_rules_give(settings):
    seen: dict[str, int] = {}
    for seed in range(12):
        for reason, count in _compare_in_world(seed, settings).items():
            seen[reason] = seen.get(reason, 0) + count
    # The worlds are varied enough that the comparison covers every outcome.
    assert set(seen) == EVERY_OUTCOME, seen
