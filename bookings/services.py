"""Use cases of the bookings app: booking a slot and cancelling a booking.

These are the only functions that write bookings. The API (sync and queued), the admin, the
management commands and the Celery task all call them, so every path obeys the same rules.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID, uuid4

from django.conf import settings
from django.db import DatabaseError, connection

from accounts.errors import UserNotFoundError
from accounts.models import User
from accounts.policies import (
    DEFAULT_MAX_ACTIVE_PER_GUEST,
    DEFAULT_MAX_HORIZON_DAYS,
    DEFAULT_MIN_NOTICE_MINUTES,
    default_cancellation_cutoff_minutes,
    duration_text,
)
from bookings.audit import event_reason
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
from bookings.models import Booking, BookingStatus, Hold, HoldStatus
from bookings.places import waitlist_offer
from bookings.webhooks import booking_webhook_emit
from core.audit import EventSource
from core.context import current_request_id
from core.db.instants import now_ms
from core.db.transactions import in_service_transaction, sqlstate
from core.errors import DomainError, LockTimeoutError, NotOwnerError
from core.idempotency.records import IdempotencyClaim, idempotency_complete, idempotency_lock
from slots.errors import SlotNotAvailableError, SlotNotFoundError
from slots.locks import slot_lock
from slots.models import Slot
from webhooks.events import deliveries_hand_over
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

    The rule is the SQL function booking_precheck(), which the one-statement booking runs too.
    It raises only what the locked re-check would raise first on the same committed state, so
    the order of checks holds; a slot that looks free is always locked and checked again.
    Raises SlotNotFoundError, SlotNotAvailableError.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT outcome FROM booking_precheck(%s, %s)", [slot_id, now_ms()])
        row = cursor.fetchone()
    if row is None:
        raise SlotNotFoundError()
    if row[0] is not None:
        raise REFUSALS[row[0]](None)


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


# What booking_refusal() and booking_book() answer, as the errors the API renders.
REFUSALS: dict[str, Callable[[int | None], DomainError]] = {
    "USER_NOT_FOUND": lambda _: UserNotFoundError(),
    "SLOT_NOT_FOUND": lambda _: SlotNotFoundError(),
    "HOLD_NOT_FOUND": lambda _: HoldNotFoundError(),
    "HOLD_SLOT_MISMATCH": lambda _: HoldSlotMismatchError(),
    "HOLD_EXPIRED": lambda _: HoldExpiredError(),
    "SLOT_NOT_AVAILABLE": lambda _: SlotNotAvailableError(),
    "SLOT_IN_PAST": lambda _: SlotInPastError(),
    "BOOKING_OWN_SLOT": lambda _: BookingOwnSlotError(),
    "ALREADY_BOOKED": lambda _: AlreadyBookedError(),
    "BOOKING_NOTICE_TOO_SHORT": lambda n: BookingNoticeTooShortError(d=duration_text(n or 0)),
    "BOOKING_BEYOND_HORIZON": lambda n: BookingBeyondHorizonError(n=n),
    "MAX_ACTIVE_BOOKINGS": lambda n: MaxActiveBookingsError(n=n),
    "HOST_ALREADY_BOOKED": lambda _: HostAlreadyBookedError(),
    "HOST_BOOKING_LIMIT": lambda n: HostBookingLimitError(n=n),
}
BOOKED = "BOOKED"
OFFER_FIRST = "OFFER_FIRST"


def _rule_limits() -> list[int | None]:
    """The parameters every booking_refusal() call shares: the global limit of active bookings,
    then the policy of a host who never stored one (min notice, horizon, per-guest limit)."""
    return [
        settings.MAX_ACTIVE_BOOKINGS,
        DEFAULT_MIN_NOTICE_MINUTES,
        DEFAULT_MAX_HORIZON_DAYS,
        DEFAULT_MAX_ACTIVE_PER_GUEST,
    ]


def check_bookable(
    *,
    user_id: UUID,
    slot_id: UUID,
    now: datetime,
    own_hold: bool = False,
    moving_id: UUID | None = None,
) -> None:
    """Every booking rule, in the order the API answers them: the SQL function booking_refusal()
    is their one statement, shared with booking_book(). Under the user and slot locks, after
    lapsed holds were tidied (bookings.places); the slot's host's policy is read in it. The
    caller's `own_hold` is a place of their own; a booking being moved (`moving_id`, a
    reschedule) is left out of the caller's counts. Raises the refusal's DomainError."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reason, amount FROM booking_refusal(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [user_id, slot_id, now, own_hold, moving_id, *_rule_limits()],
        )
        reason, amount = cursor.fetchone()
    if reason is not None:
        raise REFUSALS[reason](amount)


_BOOK_SQL = f"SELECT * FROM booking_book({', '.join(['%s'] * 15)})"


def _function_row(sql: str, params: list[Any]) -> dict[str, Any]:
    """The one row a booking SQL function returns, by column name."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [column.name for column in cursor.description]
        return dict(zip(columns, cursor.fetchone(), strict=True))


def _lock_timeout_ms(bound_lock_waits: bool) -> int | None:
    """What a booking function is told to set as lock timeout: None when the caller already
    bounded the transaction's lock waits (an idempotency record was locked first)."""
    return int(settings.BOOKING_LOCK_TIMEOUT * 1000) if bound_lock_waits else None


def _book(
    *,
    user_id: UUID,
    slot_id: UUID,
    hold_id: UUID | None,
    booking_id: UUID,
    source: EventSource,
    actor_id: UUID | None,
    request_id: str | None,
    idempotency_key: str | None,
    bound_lock_waits: bool,
) -> dict[str, Any]:
    """One call of booking_book() in the current transaction: its row, by column name.
    `bound_lock_waits`: the function sets the transaction's lock timeout (nothing before it
    waited for a lock)."""
    return _function_row(
        _BOOK_SQL,
        [
            user_id,
            slot_id,
            hold_id,
            booking_id,
            source,
            actor_id,
            request_id if request_id is not None else current_request_id(),
            idempotency_key,
            not settings.BOOKING_TEST_SKIP_LOCKS,
            settings.BOOKING_TEST_DELAY_BEFORE_WRITE,
            _lock_timeout_ms(bound_lock_waits),
            *_rule_limits(),
        ],
    )


_BOOK_STATEMENT_SQL = f"SELECT * FROM booking_book_statement({', '.join(['%s'] * 13)})"
TRANSACTION_NEEDED = "TRANSACTION_NEEDED"
# booking_book_statement() raises it when holds appeared on the slot after its pre-read, so the
# booking owes waitlist offers, which only the transactional path makes; nothing was written.
NEEDS_WAITLIST_OFFERS = "SB001"


def _book_in_one_statement(
    *,
    user_id: UUID,
    slot_id: UUID,
    source: EventSource,
    actor_id: UUID | None,
    request_id: str | None,
) -> Booking | None:
    """The booking as one autocommitted statement (booking_book_statement()): pre-read, locks,
    rules, the booking, its audit row and its outbox event. None when the slot has holds, and
    the caller books in a transaction instead. Raises the refusal's DomainError."""
    booking_id = uuid4()
    params = [
        user_id,
        slot_id,
        booking_id,
        source,
        actor_id,
        request_id if request_id is not None else current_request_id(),
        not settings.BOOKING_TEST_SKIP_LOCKS,
        settings.BOOKING_TEST_DELAY_BEFORE_WRITE,
        _lock_timeout_ms(True),
        *_rule_limits(),
    ]
    try:
        row = in_service_transaction(
            lambda: _function_row(_BOOK_STATEMENT_SQL, params),
            constraint_errors=BOOKING_CONSTRAINTS,
            missing_reference_errors=MISSING_REFERENCES,
            single_statement=True,
        )
    except DatabaseError as exc:
        if sqlstate(exc) == NEEDS_WAITLIST_OFFERS:
            return None
        raise
    if row["outcome"] == TRANSACTION_NEEDED:
        return None
    booking = _booked(row, booking_id=booking_id, user_id=user_id, slot_id=slot_id)
    deliveries_hand_over(row["delivery_ids"])
    return booking


def _booked(row: dict[str, Any], *, booking_id: UUID, user_id: UUID, slot_id: UUID) -> Booking:
    """The new booking a booking function's row describes; its refusal's DomainError unless
    the outcome is BOOKED."""
    if row["outcome"] != BOOKED:
        raise REFUSALS[row["outcome"]](row["amount"])
    return _loaded_booking(
        row=row,
        booking_id=booking_id,
        user_id=user_id,
        slot_id=slot_id,
        status=BookingStatus.CONFIRMED,
        created_at=row["booked_at"],
        updated_at=row["booked_at"],
        cancelled_at=None,
    )


def _loaded_booking(
    *,
    row: dict[str, Any],
    booking_id: UUID,
    user_id: UUID,
    slot_id: UUID,
    status: str,
    created_at: datetime,
    updated_at: datetime,
    cancelled_at: datetime | None,
) -> Booking:
    """A booking a booking function wrote, with its slot and host as the row gives them, as
    loaded models (nothing more is read)."""
    host = User(id=row["slot_host_id"], name=row["slot_host_name"])
    slot = Slot(
        id=slot_id,
        host_id=row["slot_host_id"],
        start_time=row["slot_start_time"],
        end_time=row["slot_end_time"],
        status=row["slot_status"],
        capacity=row["slot_capacity"],
        booked_count=row["slot_booked_count"],
        held_count=row["slot_held_count"],
        created_at=row["slot_created_at"],
        updated_at=row["slot_updated_at"],
    )
    slot.host = host
    booking = Booking(
        id=booking_id,
        slot_id=slot_id,
        user_id=user_id,
        status=status,
        cancelled_at=cancelled_at,
        created_at=created_at,
        updated_at=updated_at,
    )
    booking.slot = slot
    for instance in (booking, slot, host):
        instance._state.adding = False
    return booking


def booking_create(
    *,
    user_id: UUID,
    slot_id: UUID,
    hold_id: UUID | None = None,
    source: EventSource = EventSource.API,
    actor_id: UUID | None = None,
    request_id: str | None = None,
    idempotency: IdempotencyClaim | None = None,
    precheck: bool = True,
) -> Booking:
    """Book `slot_id` for `user_id`: the one code path for API, worker, admin and commands.

    Opens its own durable transaction in which the SQL function booking_book() locks the user
    row, then the slot row, re-checks every rule under both (booking_refusal()) and inserts the
    booking and its audit event (source, actor: the guest, a staff member, or None for
    commands); the trigger bookings_sync_slot counts it on the slot. Places freed by lapsed or
    released holds are offered to the waitlist in the same transaction. With an `idempotency`
    claim (API and queued worker) the record is locked first and the success is stored in it in
    the same transaction; a claim that is no longer this attempt's raises ClaimLostError and
    writes nothing. The unlocked pre-read answers a missing or full slot without a transaction;
    `precheck=False` skips it where the caller just ran it (the queued API, before publishing):
    the locked checks give the same answers. With `hold_id` it is skipped too; the caller's
    active hold on this slot is their place, and it is CONSUMED by the booking (an offered hold
    also marks the waitlist entry BOOKED).
    Without a claim or a hold, a slot that holds no place is booked in one statement instead
    (pre-read and transaction alike, booking_book_statement()): same locks, rules, rows and
    errors, without the round trips around them.
    Raises HoldNotFoundError, HoldSlotMismatchError, HoldExpiredError, SlotNotFoundError,
    SlotNotAvailableError, SlotInPastError, BookingOwnSlotError, AlreadyBookedError,
    BookingNoticeTooShortError, BookingBeyondHorizonError,
    MaxActiveBookingsError, HostAlreadyBookedError, UserNotFoundError, LockTimeoutError.
    """
    if hold_id is None and idempotency is None and precheck:
        booked = _book_in_one_statement(
            user_id=user_id,
            slot_id=slot_id,
            source=source,
            actor_id=actor_id,
            request_id=request_id,
        )
        if booked is not None:
            return booked
        precheck = False  # the statement's pre-read just passed
    if hold_id is None and precheck:
        booking_precheck(slot_id=slot_id)

    def work() -> Booking:
        key: str | None = None
        if idempotency is not None:
            # Lock order: idempotency record first, so a redelivered task or a retry that
            # took over the claim is decided here before any other lock is taken.
            key = idempotency_lock(claim=idempotency).key
        booking_id = uuid4()
        book = partial(
            _book,
            user_id=user_id,
            slot_id=slot_id,
            hold_id=hold_id,
            booking_id=booking_id,
            source=source,
            actor_id=actor_id,
            request_id=request_id,
            idempotency_key=key,
            # Without a claim, booking_book() takes the transaction's first lock: it sets the
            # lock timeout itself, which saves the SET LOCAL round trip.
            bound_lock_waits=idempotency is None,
        )
        row = book()
        if row["outcome"] == OFFER_FIRST:
            # Lapsed holds freed places that waiting guests are owed before this booking; the
            # locks are held, so the second call sees exactly what the offers left.
            waitlist_offer(slot=slot_lock(slot_id=slot_id), now=row["booked_at"])
            row = book()
        booking = _booked(row, booking_id=booking_id, user_id=user_id, slot_id=slot_id)
        if row["offer_needed"]:
            # The booking released another hold of the guest here: its place is offered on.
            waitlist_offer(slot=booking.slot, now=row["booked_at"])
        # The outbox row commits with the booking, or not at all.
        booking_webhook_emit(booking=booking, type=EventType.BOOKING_CREATED)
        if idempotency is not None:
            idempotency_complete(claim=idempotency, result=booking)
        return booking

    return in_service_transaction(
        work,
        constraint_errors=BOOKING_CONSTRAINTS,
        missing_reference_errors=MISSING_REFERENCES,
        work_bounds_lock_waits=idempotency is None,
    )


CANCELLED = "CANCELLED"


class _SlotChangedError(Exception):
    """booking_cancel() found the booking on another slot than the one it locked."""


SLOT_CHANGED = "SLOT_CHANGED"
CANCEL_REFUSALS: dict[str, Callable[[int | None], DomainError]] = {
    "BOOKING_NOT_FOUND": lambda _: BookingNotFoundError(),
    "BOOKING_ALREADY_CANCELLED": lambda _: BookingAlreadyCancelledError(),
    "CANCELLATION_WINDOW_CLOSED": lambda n: CancellationWindowClosedError.for_cutoff(n or 0),
}
_CANCEL_SQL = f"SELECT * FROM booking_cancel({', '.join(['%s'] * 11)})"


def _booking_read(booking_id: UUID) -> tuple[UUID, UUID] | None:
    """(slot id, guest id) of the booking as committed, without a lock."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT slot_id, user_id FROM bookings WHERE id = %s", [booking_id])
        row = cursor.fetchone()
    return None if row is None else (row[0], row[1])


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

    `staff_override` is for the admin and commands: any booking, the cutoff does not apply, and
    the audit event says so when it would have. In its own transaction the SQL function
    booking_cancel() locks the slot row, then the booking row, so a stale double cancel can never
    free a place that was booked again meanwhile; the trigger frees the place, and it is offered
    to the waitlist in the same transaction. An `idempotency` claim is locked first and completed
    in the same transaction, as in booking_create.
    Raises BookingNotFoundError, NotOwnerError, BookingAlreadyCancelledError,
    CancellationWindowClosedError, LockTimeoutError.
    """
    found = _booking_read(booking_id)
    if found is None:
        raise BookingNotFoundError()
    if not staff_override and found[1] != actor_id:
        raise NotOwnerError(NOT_BOOKING_GUEST)

    def work(slot_id: UUID) -> Booking:
        key: str | None = None
        if idempotency is not None:
            key = idempotency_lock(claim=idempotency).key  # lock order: record, slot, booking
        row = _function_row(
            _CANCEL_SQL,
            [
                booking_id,
                slot_id,
                source,
                actor_id,
                event_reason(reason=reason, staff_override=False),
                event_reason(reason=reason, staff_override=True),
                staff_override,
                default_cancellation_cutoff_minutes(),
                request_id if request_id is not None else current_request_id(),
                key,
                _lock_timeout_ms(idempotency is None),
            ],
        )
        if row["outcome"] != CANCELLED:
            if row["outcome"] == SLOT_CHANGED:
                raise _SlotChangedError()
            raise CANCEL_REFUSALS[row["outcome"]](row["amount"])
        booking = _loaded_booking(
            row=row,
            booking_id=booking_id,
            user_id=row["user_id"],
            slot_id=slot_id,
            status=BookingStatus.CANCELLED,
            created_at=row["created_at"],
            updated_at=row["cancelled_at"],
            cancelled_at=row["cancelled_at"],
        )
        if row["offer_needed"]:  # the freed place goes to the waitlist in this transaction
            waitlist_offer(slot=booking.slot, now=row["cancelled_at"])
        booking_webhook_emit(booking=booking, type=EventType.BOOKING_CANCELLED)
        if idempotency is not None:
            idempotency_complete(claim=idempotency, result=booking)
        return booking

    slot_id = found[0]
    for _ in range(2):
        try:
            return in_service_transaction(
                partial(work, slot_id), work_bounds_lock_waits=idempotency is None
            )
        except _SlotChangedError:
            # Rescheduled since it was read: lock the slot it is on now.
            moved = _booking_read(booking_id)
            if moved is None:
                raise BookingNotFoundError() from None
            slot_id = moved[0]
    raise LockTimeoutError()  # moved again and again under our feet: the client retries
