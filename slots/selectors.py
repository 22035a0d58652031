"""Reads of slots for the API, the admin and the commands."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, NamedTuple
from uuid import UUID

from django.db import connection
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


# THE API'S HOT READS ----------------------------------------------------------------------------
# GET /api/slots and GET /api/slots/{id} read through the fixed SQL below instead of the ORM:
# building and compiling the querysets above cost more CPU than all the rest of such a request
# (bench/profile_reads.py). They read the same rows, with the same active-hold count, filters and
# order; slots/tests/test_fast_reads.py runs both over the same slots and compares every field.
class SlotRow(NamedTuple):
    """A slot as the API shows it: its own columns, its host's name, its active holds."""

    id: UUID
    host_id: UUID
    host_name: str
    start_time: datetime
    end_time: datetime
    capacity: int
    booked_count: int
    held_count: int
    status: str
    created_at: datetime
    updated_at: datetime
    active_holds: int


def slot_row_sql() -> str:
    """The select list of a SlotRow, from `slots s JOIN users u ON u.id = s.host_id`; it takes
    the parameter `now` (active holds expire after it)."""
    return f"""
        s.id, s.host_id, u.name, s.start_time, s.end_time, s.capacity, s.booked_count,
        s.held_count, s.status, s.created_at, s.updated_at, {_active_holds_sql()}"""


@cache
def _active_holds_sql() -> str:
    # As with_active_holds(): lapsed holds count for nothing, and slots without held places
    # (nearly all) skip the count. The holds table is named through the relation, as there.
    holds = Slot._meta.get_field("holds").related_model._meta.db_table  # type: ignore[union-attr]
    return (
        f"CASE WHEN s.held_count = 0 THEN 0 ELSE (SELECT count(*) FROM {holds} h "
        "WHERE h.slot_id = s.id AND h.status = 'ACTIVE' AND h.expires_at > %(now)s) END"
    )


def slot_row_get(*, slot_id: UUID | None) -> SlotRow:
    """slot_get() as a SlotRow, in one query. Raises SlotNotFoundError (also for None)."""
    row = None
    if slot_id is not None:
        sql = (
            f"SELECT {slot_row_sql()} FROM slots s JOIN users u ON u.id = s.host_id "
            "WHERE s.id = %(slot)s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, {"now": now_ms(), "slot": slot_id})
            row = cursor.fetchone()
    if row is None:
        raise SlotNotFoundError()
    return SlotRow._make(row)


def slot_list_page(
    *,
    page: int,
    limit: int,
    host_id: UUID | None = None,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
    status: str | None = None,
    available: bool | None = None,
) -> tuple[list[SlotRow], int]:
    """One page of slot_list() as SlotRows, and the total of the whole list.

    One query: the total comes with the rows (a window count over the filtered slots, before
    the page is cut and joined with its hosts), so a COUNT(*) is run only for a page past the
    end, which has no rows to carry it.
    """
    now = now_ms()
    where, params = _slot_list_filters(
        now=now,
        host_id=host_id,
        start_date=start_date,
        end_date=end_date,
        status=status,
        available=available,
    )
    sql = f"""
        SELECT {slot_row_sql()}, s.total
          FROM (SELECT s.*, count(*) OVER () AS total FROM slots s WHERE {where}
                 ORDER BY s.start_time, s.id LIMIT %(limit)s OFFSET %(offset)s) s
          JOIN users u ON u.id = s.host_id
         ORDER BY s.start_time, s.id"""
    with connection.cursor() as cursor:
        cursor.execute(sql, {**params, "limit": limit, "offset": (page - 1) * limit})
        found = cursor.fetchall()
        if found:
            return [SlotRow._make(row[:-1]) for row in found], found[0][-1]
        cursor.execute(f"SELECT count(*) FROM slots s WHERE {where}", params)
        (total,) = cursor.fetchone() or (0,)
    return [], total


def _slot_list_filters(
    *,
    now: datetime,
    host_id: UUID | None,
    start_date: datetime | None,
    end_date: datetime | None,
    status: str | None,
    available: bool | None,
) -> tuple[str, dict[str, Any]]:
    """slot_list()'s filters as SQL conditions on `s`, and their parameters."""
    conditions = ["TRUE"]
    params: dict[str, Any] = {"now": now}
    if host_id is not None:
        conditions.append("s.host_id = %(host)s")
        params["host"] = host_id
    if start_date is not None:
        conditions.append("s.start_time >= %(start)s")
        params["start"] = start_date
    if end_date is not None:
        conditions.append("s.start_time <= %(end)s")
        params["end"] = end_date
    if status is not None:
        conditions.append("s.status = %(status)s")
        params["status"] = status
    if available is not None:
        bookable = (
            f"(s.status = '{SlotStatus.AVAILABLE.value}' AND "
            f"s.booked_count < s.capacity - ({_active_holds_sql()}) AND s.start_time > %(now)s)"
        )
        conditions.append(bookable if available else f"NOT {bookable}")
    return " AND ".join(conditions), params
