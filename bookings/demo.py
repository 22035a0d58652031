"""Demo booking history for `seed_demo --bookings N --days D` (dashboard, screenshots, bench).

History is, by definition, in the past, and booking_create rightly refuses past slots
(SLOT_IN_PAST). So this module writes *past* bookings itself, and says so in its name: it is
for demo data only, never for a real booking. It keeps every invariant that check_integrity
proves all the same: the slots are created through slot_create (allow_past, the demo's one
exception), each slot is locked with slot_lock, the trigger bookings_sync_slot counts the
bookings, the constraints check them, and every booking gets its audit events (source cli, reason
"demo history") in the same transaction. Nothing is created with a created_at in the future,
and no booking is ever shifted after the fact.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time, timedelta

from accounts.models import User
from bookings.models import Booking, BookingEvent, BookingStatus, EventAction
from core.audit import EventSource
from core.db.instants import now_ms, truncate_ms
from core.db.transactions import in_service_transaction
from slots.locks import slot_lock
from slots.models import Slot, SlotStatus
from slots.services import slot_create, slot_overlaps

HISTORY_REASON = "demo history"
SEED = 20260101  # the same history on every machine, so a second run finds it complete
CANCEL_SHARE = 0.15


def demo_history_slots(
    *, hosts: dict[User, Sequence[int]], days: int, today: datetime
) -> list[Slot]:
    """Past one-hour slots (UTC) for each host at the given hours, on the `days` days before
    today; created through slot_create only where the host has nothing overlapping."""
    for host, hours in hosts.items():
        for back in range(days, 0, -1):
            day = today.date() - timedelta(days=back)
            for hour in hours:
                start = datetime.combine(day, time(hour), tzinfo=UTC)
                end = start + timedelta(hours=1)
                if not slot_overlaps(host_id=host.pk, start_time=start, end_time=end):
                    slot_create(
                        host_id=host.pk,
                        start_time=start,
                        end_time=end,
                        allow_past=True,
                        source=EventSource.CLI,
                    )
    lower = datetime.combine(today.date() - timedelta(days=days), time(), tzinfo=UTC)
    upper = datetime.combine(today.date(), time(), tzinfo=UTC)
    return list(
        Slot.objects.filter(
            host__in=list(hosts), start_time__gte=lower, start_time__lt=upper
        ).order_by("start_time", "id")
    )


def demo_history_bookings_seed(
    *,
    slots: Sequence[Slot],
    guests: Sequence[User],
    bookings: int,
    progress: Callable[[], None] = lambda: None,
) -> int:
    """Top the past `slots` up to `bookings` history bookings; return how many were created.

    Deterministic (fixed seed): the same slots get the same guests on every run, and slots that
    already have a booking are left alone, so running it twice creates nothing new. About 15 %
    end up cancelled, before their slot started. One transaction per booking, under slot_lock.
    """
    rng = random.Random(SEED)  # noqa: S311  # demo data, not security
    existing = Booking.objects.filter(slot__in=list(slots)).count()
    plan = list(slots)
    rng.shuffle(plan)
    created = 0
    now = now_ms()
    for slot in plan:
        if existing + created >= bookings:
            break
        choices = [guest for guest in guests if guest.pk != slot.host_id]
        guest = rng.choice(choices)
        lead = timedelta(hours=rng.randint(2, 240), minutes=rng.randint(0, 59))
        created_at = truncate_ms(min(slot.start_time - lead, now))
        cancelled_at = None
        if rng.random() < CANCEL_SHARE:
            span = (slot.start_time - created_at).total_seconds()
            cancelled_at = truncate_ms(created_at + timedelta(seconds=span * rng.uniform(0.1, 0.9)))
        if _history_booking_write(
            slot_id=slot.pk, guest=guest, created_at=created_at, cancelled_at=cancelled_at
        ):
            created += 1
        progress()
    return created


def _history_booking_write(
    *, slot_id: object, guest: User, created_at: datetime, cancelled_at: datetime | None
) -> bool:
    def work() -> bool:
        slot = slot_lock(slot_id=slot_id)  # type: ignore[arg-type]
        if slot.status != SlotStatus.AVAILABLE or Booking.objects.filter(slot=slot).exists():
            return False  # booked meanwhile, or already part of the history
        status = BookingStatus.CANCELLED if cancelled_at else BookingStatus.CONFIRMED
        booking = Booking.objects.create(
            slot=slot,
            user=guest,
            status=status,
            cancelled_at=cancelled_at,
            created_at=created_at,
            updated_at=cancelled_at or created_at,
        )
        events = [
            BookingEvent(
                booking=booking,
                created_at=created_at,
                action=EventAction.CREATED,
                source=EventSource.CLI,
                old_status=None,
                new_status=BookingStatus.CONFIRMED,
                new_slot=slot,
                reason=HISTORY_REASON,
            )
        ]
        if cancelled_at:
            events.append(
                BookingEvent(
                    booking=booking,
                    created_at=cancelled_at,
                    action=EventAction.CANCELLED,
                    source=EventSource.CLI,
                    old_status=BookingStatus.CONFIRMED,
                    new_status=BookingStatus.CANCELLED,
                    new_slot=slot,
                    reason=HISTORY_REASON,
                )
            )
        BookingEvent.objects.bulk_create(events)
        return True

    return in_service_transaction(work)
