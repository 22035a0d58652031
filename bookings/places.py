"""Places that free on a slot: lapsed holds marked EXPIRED, free places offered to the waitlist.

Every function here runs inside a service transaction, under the slot's lock, so the offer is
made in the same transaction as whatever freed the place (a cancellation, a reschedule away, a
hold released or lapsed, capacity raised, an entry leaving).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.db import connection

from bookings.models import (
    WAITLIST_OPEN,
    Booking,
    BookingStatus,
    Hold,
    HoldStatus,
    WaitlistEntry,
    WaitlistStatus,
)
from bookings.webhooks import waitlist_offered_emit
from core.db.instants import now_ms
from core.db.transactions import require_transaction
from slots.models import Slot, SlotStatus

SLOT_COUNT_FIELDS = ["status", "booked_count", "held_count", "updated_at"]


def holds_tidy(*, slot: Slot, now: datetime) -> bool:
    """Mark the slot's lapsed ACTIVE holds EXPIRED (and the offers they were); True if any.

    After this, under the slot lock, `slot.held_count` is exactly its active holds. A slot with
    no held place costs no query.
    """
    require_transaction("holds_tidy()")
    if slot.held_count == 0:
        return False
    # The same SQL function the booking and cancellation functions call: one lapsed-hold rule.
    with connection.cursor() as cursor:
        cursor.execute("SELECT slot_holds_expire_lapsed(%s, %s)", [slot.pk, now])
        expired = bool(cursor.fetchone()[0])
    if expired:
        slot.refresh_from_db(fields=SLOT_COUNT_FIELDS)
    return expired


def waitlist_offer(*, slot: Slot, now: datetime) -> list[WaitlistEntry]:
    """Offer every free place of a future, open slot to the earliest WAITING entries (by
    createdAt, then id): each gets a hold of WAITLIST_OFFER_TTL_SECONDS, never past the start.

    Under the slot lock, after holds_tidy(). Returns the entries now OFFERED.
    """
    require_transaction("waitlist_offer()")
    slot.refresh_from_db(fields=SLOT_COUNT_FIELDS)
    if slot.status != SlotStatus.AVAILABLE or slot.start_time <= now:
        return []
    free = slot.capacity - slot.booked_count - slot.held_count
    if free <= 0:
        return []
    # A user who already holds a place here, or has booked it, needs no offer.
    holders = Hold.objects.filter(slot_id=slot.pk, status=HoldStatus.ACTIVE).values("user_id")
    guests = Booking.objects.filter(slot_id=slot.pk, status=BookingStatus.CONFIRMED).values(
        "user_id"
    )
    entries = list(
        WaitlistEntry.objects.filter(slot_id=slot.pk, status=WaitlistStatus.WAITING)
        .exclude(user_id__in=holders)
        .exclude(user_id__in=guests)
        .order_by("created_at", "id")
        .select_for_update(no_key=True)[:free]
    )
    if not entries:
        return []
    expires = min(now + timedelta(seconds=settings.WAITLIST_OFFER_TTL_SECONDS), slot.start_time)
    for entry in entries:
        entry.hold = Hold.objects.create(
            slot_id=slot.pk, user_id=entry.user_id, expires_at=expires, created_at=now
        )
        entry.status = WaitlistStatus.OFFERED
        entry.save(update_fields=["status", "hold"])
    slot.refresh_from_db(fields=SLOT_COUNT_FIELDS)
    waitlist_offered_emit(entries=entries)
    return entries


def places_settle(slot: Slot, now: datetime | None = None) -> None:
    """A place may have freed on `slot`: tidy its lapsed holds, then offer what is free."""
    now = now or now_ms()
    holds_tidy(slot=slot, now=now)
    waitlist_offer(slot=slot, now=now)


def places_settle_if_lapsed(*, slot: Slot, now: datetime) -> None:
    """Before a write that takes a place: if lapsed holds free some, the waitlist gets them
    first (in this transaction), then the write checks what is left."""
    if holds_tidy(slot=slot, now=now):
        waitlist_offer(slot=slot, now=now)


def slot_close_waiters(slot: Slot) -> bool:
    """The slot is deleted or cancelled: its active holds and open waitlist entries expire.
    True if the slot ever had a hold or an entry (it then keeps its history)."""
    now = now_ms()
    had = Hold.objects.filter(slot_id=slot.pk).exists()
    had = WaitlistEntry.objects.filter(slot_id=slot.pk).exists() or had
    if not had:
        return False
    Hold.objects.filter(slot_id=slot.pk, status=HoldStatus.ACTIVE).update(
        status=HoldStatus.EXPIRED, updated_at=now
    )
    WaitlistEntry.objects.filter(slot_id=slot.pk, status__in=WAITLIST_OPEN).update(
        status=WaitlistStatus.EXPIRED, updated_at=now
    )
    slot.refresh_from_db(fields=SLOT_COUNT_FIELDS)
    return True


def guest_booked(*, slot: Slot, user_id: UUID, now: datetime, used_hold: bool) -> None:
    """The user now has a booking on the slot: their open waitlist entry is BOOKED, and a hold
    of theirs that the booking did not use is released (and its place offered on).

    `slot` as locked (after holds_tidy). Without a hold used and with no place held, the user
    can have neither: a WAITING entry never coexists with a free place, since every freed place
    is offered at once, except to users who hold a place there. Then nothing is read.
    """
    if not used_hold and slot.held_count == 0:
        return
    WaitlistEntry.objects.filter(slot_id=slot.pk, user_id=user_id, status__in=WAITLIST_OPEN).update(
        status=WaitlistStatus.BOOKED, updated_at=now
    )
    released = Hold.objects.filter(
        slot_id=slot.pk, user_id=user_id, status=HoldStatus.ACTIVE
    ).update(status=HoldStatus.RELEASED, updated_at=now)
    if released:
        waitlist_offer(slot=slot, now=now)
