"""Reads of slots for the API, the admin and the commands."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from core.db.instants import now_ms
from slots.errors import SlotNotFoundError
from slots.models import Slot, SlotStatus


def with_active_holds(slots: QuerySet[Slot]) -> QuerySet[Slot]:
    """Annotate `active_holds`: the slot's holds that are ACTIVE with their expiry still ahead.

    A lapsed hold counts for nothing even before anything marks it EXPIRED. Holds are written by
    the bookings app; this only counts the rows of the relation it declares on Slot (no import).
    Slots without held places (held_count 0, nearly all) skip the subquery.
    """
    hold_model = Slot._meta.get_field("holds").related_model
    active = (
        hold_model.objects.filter(  # type: ignore[union-attr]
            slot_id=OuterRef("pk"), status="ACTIVE", expires_at__gt=now_ms()
        )
        .order_by()
        .values("slot_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return slots.annotate(
        active_holds=Case(
            When(held_count=0, then=Value(0)),
            default=Coalesce(Subquery(active, output_field=IntegerField()), Value(0)),
            output_field=IntegerField(),
        )
    )


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
    slots = with_active_holds(Slot.objects.select_related("host"))
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
            status=SlotStatus.AVAILABLE,
            booked_count__lt=F("capacity") - F("active_holds"),
            start_time__gt=now_ms(),
        )
        slots = slots.filter(bookable if available else ~bookable)
    return slots.order_by("start_time", "id")


def slot_get(*, slot_id: UUID | None) -> Slot:
    """One slot with its host. Raises SlotNotFoundError (also for None, a path segment that is
    not a uuid)."""
    slots = with_active_holds(Slot.objects.select_related("host"))
    slot = slots.filter(pk=slot_id).first() if slot_id else None
    if slot is None:
        raise SlotNotFoundError()
    return slot
