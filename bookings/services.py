"""Use cases of the bookings app: booking a slot and cancelling a booking.

These are the only functions that write bookings. The API (sync and queued), the admin, the
management commands and the Celery task all call them, so every path obeys the same rules.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from django.conf import settings
from django.db.models import Count, Q

from accounts.errors import UserNotFoundError
from accounts.locks import user_lock
from accounts.models import HostPolicy, User
from accounts.policies import duration_text, host_policy_get
from bookings.audit import booking_event_record, event_reason
from bookings.errors import (
    AlreadyBookedError,
    BookingAlreadyCancelledError,
    BookingBeyondHorizonError,
    BookingNotFoundError,
    BookingNoticeTooShortError,
    BookingOwnSlotError,
    CancellationWindowClosedError,
    HoldExistsError,
    HoldExpiredError,
    HoldNotFoundError,
    HoldSlotMismatchError,
    HostAlreadyBookedError,
    HostBookingLimitError,
    MaxActiveBookingsError,
    SlotInPastError,
)
from bookings.locks import booking_lock
from bookings.models import Booking, BookingStatus, EventAction, Hold, HoldStatus
from bookings.places import guest_booked, places_settle, places_settle_if_lapsed
from bookings.webhooks import booking_webhook_emit
from core.audit import EventSource
from core.db.instants import now_ms
from core.db.transactions import in_service_transaction
from core.errors import NotOwnerError
from core.idempotency.records import IdempotencyClaim, idempotency_complete, idempotency_lock
from slots.errors import SlotNotAvailableError, SlotNotFoundError
from slots.locks import slot_lock
from slots.models import Slot, SlotStatus
from slots.rules import slot_free_places
from webhooks.models import EventType

# A constraint that fires means some path wrote without the locks; the database still says no.
BOOKING_CONSTRAINTS = {
    "slots_booked_within_capacity": SlotNotAvailableError,
    "slots_status_matches_count": SlotNotAvailableError,
    "slots_held_within_capacity": SlotNotAvailableError,
    "holds_one_active_per_user_and_slot": HoldExistsError,
    "bookings_one_confirmed_per_user_and_slot": AlreadyBookedError,
}
MISSING_REFERENCES = {"slots": SlotNotFoundError, "users": UserNotFoundError}
NOT_BOOKING_GUEST = "You can only cancel your own bookings"


def booking_precheck(*, slot_id: UUID) -> None:
    """The unlocked fast path: a missing or taken slot is answered at once.

    It raises only what the locked re-check would raise first on the same committed state, so
    the order of checks holds; a slot that looks free is always locked and checked again.
    Raises SlotNotFoundError, SlotNotAvailableError.
    """
    slot = (
        Slot.objects.filter(pk=slot_id)
        .only("status", "booked_count", "held_count", "capacity")
        .first()
    )
    if slot is None:
        raise SlotNotFoundError()
    if slot_free_places(slot) == 0:
        # held_count may still count holds that have lapsed: only those still ahead take places.
        if slot.status == SlotStatus.AVAILABLE and slot.booked_count < slot.capacity:
            slot.held_count = Hold.objects.filter(
                slot_id=slot_id, status=HoldStatus.ACTIVE, expires_at__gt=now_ms()
            ).count()
        if slot_free_places(slot) == 0:
            raise SlotNotAvailableError()


def hold_lock_for_booking(*, hold_id: UUID, user_id: UUID, slot: Slot, now: datetime) -> Hold:
    """The hold checks of a booking or reschedule that names a hold, under the user and slot
    locks: the caller's hold, for this slot, still active. Locks the hold row (last in the lock
    order). Raises HoldNotFoundError, HoldSlotMismatchError, HoldExpiredError."""
    hold = (
        Hold.objects.select_for_update(no_key=True, of=("self",))
        .filter(pk=hold_id, user_id=user_id)
        .first()
    )
    if hold is None:
        raise HoldNotFoundError()
    if hold.slot_id != slot.pk:
        raise HoldSlotMismatchError()
    if not hold.is_active(now):
        raise HoldExpiredError()
    return hold


def hold_consume(*, hold: Hold, booking_id: UUID, now: datetime) -> None:
    """The hold becomes CONSUMED by `booking_id`, before that booking is written: its place
    passes to the booking without ever counting twice against the capacity. (The reference to
    the booking is checked at commit, as every foreign key is.)"""
    Hold.objects.filter(pk=hold.pk).update(
        status=HoldStatus.CONSUMED, booking_id=booking_id, updated_at=now
    )
    hold.status, hold.booking_id = HoldStatus.CONSUMED, booking_id


def _check_bookable(
    *,
    user: User,
    slot: Slot,
    policy: HostPolicy,
    now: datetime,
    hold: Hold | None = None,
    moving: Booking | None = None,
) -> None:
    """Every booking rule, in the order the API answers them. Under the user and slot locks,
    after holds_tidy(); `policy` is the slot's host's, read after the slot lock. The caller's
    `hold` (already checked) is a place of their own; a booking being `moving` here (a
    reschedule) is left out of the caller's counts."""
    if slot_free_places(slot) + (1 if hold is not None else 0) == 0:
        raise SlotNotAvailableError()
    if slot.start_time <= now:
        raise SlotInPastError()
    if slot.host_id == user.pk:
        raise BookingOwnSlotError()
    # One read of the caller's CONFIRMED bookings serves the three per-user rules below.
    mine = Booking.objects.filter(user_id=user.pk, status=BookingStatus.CONFIRMED)
    if moving is not None:
        mine = mine.exclude(pk=moving.pk)
    active = mine.aggregate(
        on_slot=Count("id", filter=Q(slot_id=slot.pk)),
        total=Count("id", filter=Q(slot__start_time__gt=now)),
        with_host=Count("id", filter=Q(slot__start_time__gt=now, slot__host_id=slot.host_id)),
    )
    if active["on_slot"]:
        raise AlreadyBookedError()
    if slot.start_time < now + timedelta(minutes=policy.min_notice_minutes):
        raise BookingNoticeTooShortError(d=duration_text(policy.min_notice_minutes))
    horizon = policy.max_horizon_days
    if horizon is not None and slot.start_time > now + timedelta(days=horizon):
        raise BookingBeyondHorizonError(n=horizon)
    if active["total"] >= settings.MAX_ACTIVE_BOOKINGS:
        raise MaxActiveBookingsError(n=settings.MAX_ACTIVE_BOOKINGS)
    per_host = policy.max_active_bookings_per_guest
    if active["with_host"] >= per_host:
        raise HostAlreadyBookedError() if per_host == 1 else HostBookingLimitError(n=per_host)


def booking_create(
    *,
    user_id: UUID,
    slot_id: UUID,
    hold_id: UUID | None = None,
    source: EventSource = EventSource.API,
    actor_id: UUID | None = None,
    request_id: str | None = None,
    idempotency: IdempotencyClaim | None = None,
) -> Booking:
    """Book `slot_id` for `user_id`: the one code path for API, worker, admin and commands.

    Opens its own durable transaction; locks the user row, then the slot row, re-checks every
    rule under both and inserts. The trigger bookings_sync_slot counts the booking on the slot;
    the audit event (source, actor: the guest, a staff member, or None for commands) commits
    with it. With an `idempotency` claim (API and queued worker) the record is locked first and
    the success is stored in it in the same transaction; a claim that is no longer this
    attempt's raises ClaimLostError and writes nothing. With `hold_id` the pre-read is skipped;
    the caller's active hold on this slot is their place, and it is CONSUMED by the booking in
    the same transaction (an offered hold also marks the waitlist entry BOOKED).
    Raises HoldNotFoundError, HoldSlotMismatchError, HoldExpiredError, SlotNotFoundError,
    SlotNotAvailableError, SlotInPastError, BookingOwnSlotError, AlreadyBookedError,
    BookingNoticeTooShortError, BookingBeyondHorizonError,
    MaxActiveBookingsError, HostAlreadyBookedError, UserNotFoundError, LockTimeoutError.
    """
    if hold_id is None:
        booking_precheck(slot_id=slot_id)

    def work() -> Booking:
        key: str | None = None
        if idempotency is not None:
            # Lock order: idempotency record first, so a redelivered task or a retry that
            # took over the claim is decided here before any other lock is taken.
            key = idempotency_lock(claim=idempotency).key
        if settings.BOOKING_TEST_SKIP_LOCKS:
            # Control tests only (see settings): read without locks to show the race exists.
            user = User.objects.filter(pk=user_id).first()
            slot = Slot.objects.select_related("host").filter(pk=slot_id).first()
            if user is None or slot is None:
                raise SlotNotFoundError()
        else:
            # Lock order everywhere: user, then slot. The user lock covers the per-user limits,
            # which the slot lock cannot: the same user may be booking another slot right now.
            user = user_lock(user_id=user_id)
            slot = slot_lock(slot_id=slot_id)
        # The host's rules as they are now, read after the slot lock; "now" after the locks.
        now = now_ms()
        places_settle_if_lapsed(slot=slot, now=now)  # a lapsed hold takes no place
        hold = None
        if hold_id is not None:
            hold = hold_lock_for_booking(hold_id=hold_id, user_id=user.pk, slot=slot, now=now)
        policy = host_policy_get(host_id=slot.host_id)
        _check_bookable(user=user, slot=slot, policy=policy, now=now, hold=hold)
        if settings.BOOKING_TEST_DELAY_BEFORE_WRITE:
            time.sleep(settings.BOOKING_TEST_DELAY_BEFORE_WRITE)
        booking_id = uuid4()
        if hold is not None:
            hold_consume(hold=hold, booking_id=booking_id, now=now)
        booking = Booking.objects.create(id=booking_id, user=user, slot=slot)
        guest_booked(slot=slot, user_id=user.pk, now=now, used_hold=hold is not None)
        slot.refresh_from_db(fields=["status", "booked_count", "held_count", "updated_at"])
        booking_event_record(
            booking=booking,
            action=EventAction.CREATED,
            source=source,
            actor_id=actor_id,
            old_status=None,
            request_id=request_id,
            idempotency_key=key,
        )
        # The outbox row commits with the booking, or not at all.
        booking_webhook_emit(booking=booking, type=EventType.BOOKING_CREATED)
        if idempotency is not None:
            idempotency_complete(claim=idempotency, result=booking)
        return booking

    return in_service_transaction(
        work, constraint_errors=BOOKING_CONSTRAINTS, missing_reference_errors=MISSING_REFERENCES
    )


def booking_cancel(
    *,
    booking_id: UUID,
    actor_id: UUID | None,
    source: EventSource = EventSource.API,
    reason: str | None = None,
    staff_override: bool = False,
    request_id: str | None = None,
    idempotency: IdempotencyClaim | None = None,
) -> Booking:
    """Cancel a booking: the guest's own (actor_id), at least the host's cutoff before its start.

    `staff_override` is for the admin and commands: any booking, the cutoff does not
    apply, and the audit event says so when it would have. Locks the slot row, then the booking
    row, so a stale double cancel can never free a place that was booked again
    meanwhile. The trigger frees the place on the slot. An `idempotency` claim is locked first
    and completed in the same transaction, as in booking_create.
    Raises BookingNotFoundError, NotOwnerError, BookingAlreadyCancelledError,
    CancellationWindowClosedError, LockTimeoutError.
    """
    found = Booking.objects.filter(pk=booking_id).values("slot_id", "user_id").first()
    if found is None:
        raise BookingNotFoundError()
    if not staff_override and found["user_id"] != actor_id:
        raise NotOwnerError(NOT_BOOKING_GUEST)

    def work() -> Booking:
        key: str | None = None
        if idempotency is not None:
            key = idempotency_lock(claim=idempotency).key  # lock order: record, slot, booking
        slot = slot_lock(slot_id=found["slot_id"])
        booking = booking_lock(booking_id=booking_id)
        if booking.status == BookingStatus.CANCELLED:
            raise BookingAlreadyCancelledError()
        now = now_ms()
        cutoff_minutes = host_policy_get(host_id=slot.host_id).cancellation_cutoff_minutes
        # Exactly `cutoff` before the start is still allowed; a started slot never is.
        inside_cutoff = (
            slot.start_time - now < timedelta(minutes=cutoff_minutes) or slot.start_time <= now
        )
        if inside_cutoff and not staff_override:
            raise CancellationWindowClosedError.for_cutoff(cutoff_minutes)
        booking.status = BookingStatus.CANCELLED
        booking.cancelled_at = now
        booking.save(update_fields=["status", "cancelled_at"])
        places_settle(slot, now)  # the freed place goes to the waitlist in this transaction
        booking.slot = slot
        booking_event_record(
            booking=booking,
            action=EventAction.CANCELLED,
            source=source,
            actor_id=actor_id,
            old_status=BookingStatus.CONFIRMED,
            reason=event_reason(reason=reason, staff_override=staff_override and inside_cutoff),
            request_id=request_id,
            idempotency_key=key,
        )
        booking_webhook_emit(booking=booking, type=EventType.BOOKING_CANCELLED)
        if idempotency is not None:
            idempotency_complete(claim=idempotency, result=booking)
        return booking

    return in_service_transaction(work)
