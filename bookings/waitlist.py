"""The waitlist of a full slot: join, leave, and the entries in order with their position.

Offers are made by bookings.places whenever a place frees, in the transaction that frees it.
"""

from __future__ import annotations

from uuid import UUID

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from accounts.locks import user_lock
from bookings.errors import (
    AlreadyBookedError,
    AlreadyOnWaitlistError,
    BookingOwnSlotError,
    SlotInPastError,
    SlotNotFullError,
    WaitlistEntryNotFoundError,
)
from bookings.models import (
    WAITLIST_OPEN,
    Booking,
    BookingStatus,
    HoldStatus,
    WaitlistEntry,
    WaitlistStatus,
)
from bookings.places import places_settle, places_settle_if_lapsed
from core.db.instants import now_ms
from core.db.transactions import in_service_transaction
from slots.errors import SlotNotAvailableError
from slots.locks import slot_lock
from slots.models import SlotStatus
from slots.rules import slot_free_places

WAITLIST_CONSTRAINTS = {"waitlist_one_open_entry_per_user_and_slot": AlreadyOnWaitlistError}


def waitlist_join(*, user_id: UUID, slot_id: UUID) -> WaitlistEntry:
    """Put the caller on the waitlist of a full slot. Locks the user row, then the slot row.

    Raises SlotNotFoundError, SlotNotAvailableError (cancelled), SlotInPastError,
    BookingOwnSlotError, AlreadyBookedError, AlreadyOnWaitlistError, SlotNotFullError.
    """

    def work() -> WaitlistEntry:
        user = user_lock(user_id=user_id)
        slot = slot_lock(slot_id=slot_id)
        now = now_ms()
        if slot.status == SlotStatus.CANCELLED:
            raise SlotNotAvailableError()
        if slot.start_time <= now:
            raise SlotInPastError()
        if slot.host_id == user.pk:
            raise BookingOwnSlotError()
        confirmed = Booking.objects.filter(
            slot_id=slot.pk, user_id=user.pk, status=BookingStatus.CONFIRMED
        )
        if confirmed.exists():
            raise AlreadyBookedError()
        open_entry = WaitlistEntry.objects.filter(
            slot_id=slot.pk, user_id=user.pk, status__in=WAITLIST_OPEN
        )
        if open_entry.exists():
            raise AlreadyOnWaitlistError()
        places_settle_if_lapsed(slot=slot, now=now)  # lapsed holds free places first
        if slot_free_places(slot) > 0:
            raise SlotNotFullError()
        return WaitlistEntry.objects.create(slot=slot, user=user, created_at=now)

    entry = in_service_transaction(work, constraint_errors=WAITLIST_CONSTRAINTS)
    return waitlist_entry_get(entry_id=entry.pk)


def waitlist_leave(
    *, user_id: UUID | None, slot_id: UUID, entry_id: UUID | None = None
) -> WaitlistEntry:
    """The caller leaves the slot's waitlist (staff from the admin: `entry_id`, any user's).

    The entry becomes LEFT; an offered hold is released and its place passed on, in the same
    transaction. Locks the slot row, then the entry. Raises SlotNotFoundError,
    WaitlistEntryNotFoundError.
    """

    def work() -> WaitlistEntry:
        slot = slot_lock(slot_id=slot_id)
        entries = WaitlistEntry.objects.filter(slot_id=slot.pk, status__in=WAITLIST_OPEN)
        entries = entries.filter(pk=entry_id) if entry_id is not None else entries
        if user_id is not None:
            entries = entries.filter(user_id=user_id)
        entry = entries.select_for_update(no_key=True, of=("self",)).first()
        if entry is None:
            raise WaitlistEntryNotFoundError()
        now = now_ms()
        hold = entry.hold if entry.status == WaitlistStatus.OFFERED else None
        entry.status = WaitlistStatus.LEFT
        entry.save(update_fields=["status"])
        if hold is not None and hold.status == HoldStatus.ACTIVE:
            hold.status = HoldStatus.RELEASED
            hold.save(update_fields=["status"])
        places_settle(slot, now)
        return entry

    entry = in_service_transaction(work)
    return waitlist_entry_get(entry_id=entry.pk)


def _with_position(entries: QuerySet[WaitlistEntry]) -> QuerySet[WaitlistEntry]:
    """Annotate `position`: 1 + the WAITING entries of the same slot ahead of this one (by
    createdAt, then id), for WAITING entries; None otherwise."""
    ahead = (
        WaitlistEntry.objects.filter(slot_id=OuterRef("slot_id"), status=WaitlistStatus.WAITING)
        .filter(
            Q(created_at__lt=OuterRef("created_at"))
            | Q(created_at=OuterRef("created_at"), id__lt=OuterRef("id"))
        )
        .order_by()
        .values("slot_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return entries.select_related("hold").annotate(ahead=Coalesce(Subquery(ahead), Value(0)))


def waitlist_entry_get(*, entry_id: UUID) -> WaitlistEntry:
    return _with_position(WaitlistEntry.objects.filter(pk=entry_id)).get()


def waitlist_list(*, slot_id: UUID, viewer_id: UUID, host_view: bool) -> QuerySet[WaitlistEntry]:
    """The slot's WAITING and OFFERED entries in order: all of them for its host (and staff),
    only the viewer's own for anyone else."""
    entries = WaitlistEntry.objects.filter(slot_id=slot_id, status__in=WAITLIST_OPEN)
    if not host_view:
        entries = entries.filter(user_id=viewer_id)
    return _with_position(entries).order_by("created_at", "id")
