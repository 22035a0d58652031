"""Reads of slots for the API, the admin and the commands."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.db.models import F, Q, QuerySet

from core.db.instants import now_ms
from slots.errors import SlotNotFoundError
from slots.models import Slot, SlotStatus


def slot_list(
    *,
    host_id: UUID | None = None,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
    status: str | None = None,
    available: bool | None = None,
) -> QuerySet[Slot]:
    """Slots of every status, filtered on their start; ordered by start, then id.

    `available` True keeps the slots a booking could take now: AVAILABLE, with a free place,
    not started; False keeps all the others.
    """
    slots = Slot.objects.select_related("host")
    if host_id is not None:
        slots = slots.filter(host_id=host_id)
    if start_date is not None:
        slots = slots.filter(start_time__gte=start_date)
    if end_date is not None:
        slots = slots.filter(start_time__lte=end_date)
    if status is not None:
        slots = slots.filter(status=status)
    if available is not None:
        bookable = Q(
            status=SlotStatus.AVAILABLE, booked_count__lt=F("capacity"), start_time__gt=now_ms()
        )
        slots = slots.filter(bookable if available else ~bookable)
    return slots.order_by("start_time", "id")


def slot_get(*, slot_id: UUID | None) -> Slot:
    """One slot with its host. Raises SlotNotFoundError (also for None, a path segment that is
    not a uuid)."""
    slot = Slot.objects.select_related("host").filter(pk=slot_id).first() if slot_id else None
    if slot is None:
        raise SlotNotFoundError()
    return slot
