"""Holds: one place on a slot reserved for a short time, so a client can finish a checkout.

A hold is active while it is ACTIVE and its expiry is ahead. Every read compares the expiry with
now, so correctness needs no worker; the periodic sweep and every locked write on the slot only
tidy statuses (and pass lapsed waitlist offers on). Lock order as for bookings: idempotency
record, user, slot, then the hold.
"""

from __future__ import annotations

import time
from datetime import timedelta
from uuid import UUID

from django.conf import settings

from accounts.locks import user_lock
from accounts.models import User
from bookings.errors import HoldExistsError, HoldNotActiveError, HoldNotFoundError
from bookings.models import Hold, HoldStatus, WaitlistEntry, WaitlistStatus
from bookings.places import places_settle, places_settle_if_lapsed
from bookings.services import BOOKING_CONSTRAINTS, MISSING_REFERENCES, check_bookable
from core.db.instants import now_ms
from core.db.transactions import in_service_transaction
from core.idempotency.records import IdempotencyClaim, idempotency_complete, idempotency_lock
from slots.errors import SlotNotFoundError
from slots.locks import slot_lock
from slots.models import Slot

HOLD_TTL_MIN_SECONDS = 30


def hold_create(
    *,
    user_id: UUID,
    slot_id: UUID,
    ttl_seconds: int | None = None,
    idempotency: IdempotencyClaim | None = None,
) -> Hold:
    """Hold one place of `slot_id` for `user_id` for `ttl_seconds` (default HOLD_TTL_SECONDS),
    never past the slot's start.

    Granted only when a booking would be granted now: the same checks, in the same order, under
    the user and slot locks. Raises SlotNotFoundError, HoldExistsError, and the booking checks'
    errors (SlotNotAvailableError … HostAlreadyBookedError), LockTimeoutError.
    """
    ttl = settings.HOLD_TTL_SECONDS if ttl_seconds is None else ttl_seconds

    def work() -> Hold:
        if idempotency is not None:
            idempotency_lock(claim=idempotency)
        if settings.BOOKING_TEST_SKIP_LOCKS:
            # Control tests only (see settings): read without locks to show the race exists.
            user = User.objects.filter(pk=user_id).first()
            slot = Slot.objects.select_related("host").filter(pk=slot_id).first()
            if user is None or slot is None:
                raise SlotNotFoundError()
        else:
            user = user_lock(user_id=user_id)
            slot = slot_lock(slot_id=slot_id)
        now = now_ms()
        places_settle_if_lapsed(slot=slot, now=now)  # also marks the caller's lapsed hold
        if Hold.objects.filter(slot_id=slot.pk, user_id=user.pk, status=HoldStatus.ACTIVE).exists():
            raise HoldExistsError()
        check_bookable(user_id=user.pk, slot_id=slot.pk, now=now)
        if settings.BOOKING_TEST_DELAY_BEFORE_WRITE:
            time.sleep(settings.BOOKING_TEST_DELAY_BEFORE_WRITE)
        expires = min(now + timedelta(seconds=ttl), slot.start_time)
        hold = Hold.objects.create(slot=slot, user=user, expires_at=expires, created_at=now)
        if idempotency is not None:
            idempotency_complete(claim=idempotency, result=hold)
        return hold

    return in_service_transaction(
        work, constraint_errors=BOOKING_CONSTRAINTS, missing_reference_errors=MISSING_REFERENCES
    )


def hold_release(
    *, hold_id: UUID, slot_id: UUID, user_id: UUID | None, staff_override: bool = False
) -> Hold:
    """Release the caller's active hold (`staff_override`: any hold, from the admin).

    Locks the slot, then the hold. The place goes to the waitlist in the same transaction; a
    released offer counts as the offered user leaving the waitlist.
    Raises HoldNotFoundError (missing, another slot's, or not the caller's), HoldNotActiveError.
    """
    found = Hold.objects.filter(pk=hold_id, slot_id=slot_id).values("user_id").first()
    if found is None or (not staff_override and found["user_id"] != user_id):
        raise HoldNotFoundError()

    def work() -> Hold:
        slot = slot_lock(slot_id=slot_id)
        hold = Hold.objects.select_for_update(no_key=True, of=("self",)).get(pk=hold_id)
        now = now_ms()
        if not hold.is_active(now):
            raise HoldNotActiveError()
        hold.status = HoldStatus.RELEASED
        hold.save(update_fields=["status"])
        WaitlistEntry.objects.filter(hold_id=hold.pk, status=WaitlistStatus.OFFERED).update(
            status=WaitlistStatus.LEFT, updated_at=now
        )
        places_settle(slot, now)
        return hold

    return in_service_transaction(work)


def holds_expire_sweep() -> int:
    """Mark every lapsed hold EXPIRED and pass lapsed waitlist offers on, one slot per
    transaction under its lock (the periodic task). Returns the number of slots settled."""
    slot_ids = list(
        Hold.objects.filter(status=HoldStatus.ACTIVE, expires_at__lte=now_ms())
        .order_by("slot_id")
        .values_list("slot_id", flat=True)
        .distinct()
    )
    for slot_id in slot_ids:

        def work(slot_id: UUID = slot_id) -> None:
            slot = slot_lock(slot_id=slot_id)
            places_settle(slot, now_ms())

        in_service_transaction(work)
    return len(slot_ids)
