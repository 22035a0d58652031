"""Reads of slots for the API, the admin and the commands."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.db.models import QuerySet

from slots.errors import SlotNotFoundError
from slots.models import Slot


def slot_list(
    *,
    host_id: UUID | None = None,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
    status: str | None = None,
) -> QuerySet[Slot]:
    """Slots of every status, filtered on their start; ordered by start, then id."""
    slots = Slot.objects.select_related("host")
    if host_id is not None:
        slots = slots.filter(host_id=host_id)
    if start_date is not None:
        slots = slots.filter(start_time__gte=start_date)
    if end_date is not None:
        slots = slots.filter(start_time__lte=end_date)
    if status is not None:
        slots = slots.filter(status=status)
    return slots.order_by("start_time", "id")


def slot_get(*, slot_id: UUID | None) -> Slot:
    """One slot with its host. Raises SlotNotFoundError (also for None, a path segment that is
    not a uuid)."""
    slot = Slot.objects.select_related("host").filter(pk=slot_id).first() if slot_id else None
    if slot is None:
        raise SlotNotFoundError()
    return slot
