"""The outbox's entry point: services call emit() inside their own transaction.

This app sits below slots and bookings and never imports them: the emitting service passes the
event's `data` already rendered (its Booking or Slot representation) and the users it concerns.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

from core.db.instants import format_instant, now_ms
from core.db.transactions import require_transaction
from webhooks.models import EventType


@dataclass(frozen=True)
class Event:
    """One change to announce: its type, its `data`, and the users it concerns (guest, host,
    or the user offered a place), whose endpoints receive it."""

    type: EventType
    data: dict[str, Any]
    user_ids: Sequence[UUID]


def event_body(*, event_id: UUID, type: str, created_at: datetime, data: dict[str, Any]) -> str:
    """The payload every receiver gets: {"id", "type", "createdAt", "data"}."""
    payload = {"id": str(event_id), "type": type, "createdAt": format_instant(created_at)}
    payload["data"] = data  # type: ignore[assignment]
    return json.dumps(payload, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


# One statement writes the events and fans them out to the endpoints that want them, so the hot
# paths (booking, cancelling) pay a single round trip for the outbox. The foreign keys of the
# deliveries are checked at the end of the statement, when the events exist.
_EMIT_SQL = """
WITH new_events (id, type, body, created_at, user_ids) AS (VALUES {rows}),
inserted AS (
    INSERT INTO webhook_events (id, type, body, created_at, updated_at)
    SELECT id, type, body, created_at, created_at FROM new_events
)
INSERT INTO webhook_deliveries
    (id, event_id, endpoint_id, status, attempt_count, series_start, next_attempt_at, created_at,
     updated_at)
SELECT gen_random_uuid(), n.id, e.id, 'PENDING', 0, 0, n.created_at, n.created_at, n.created_at
FROM new_events n
CROSS JOIN LATERAL webhook_endpoints_for(n.type, n.user_ids) AS e(id)
RETURNING id
"""
_ROW = "(%s::uuid, %s, %s, %s::timestamptz, %s::uuid[])"


def emit(events: Iterable[Event]) -> list[UUID]:
    """Write `events` to the outbox in the caller's transaction; return the new deliveries.

    Inside the emitting service's atomic(), after the change: the rows commit if and only if the
    change does. After the commit, and never before, the deliveries are handed to the worker;
    if that hand-over fails the 30-second sweep finds them. Nothing here talks to a receiver.
    """
    require_transaction("webhooks.emit()")
    batch = list(events)
    if not batch:
        return []
    now = now_ms()
    params: list[Any] = []
    for event in batch:
        event_id = uuid.uuid4()
        body = event_body(event_id=event_id, type=event.type, created_at=now, data=event.data)
        user_ids = [str(user_id) for user_id in dict.fromkeys(event.user_ids)]
        params += [str(event_id), str(event.type), body, now, user_ids]
    with connection.cursor() as cursor:
        cursor.execute(_EMIT_SQL.format(rows=", ".join([_ROW] * len(batch))), params)
        delivery_ids = [row[0] for row in cursor.fetchall()]
    deliveries_hand_over(delivery_ids)
    return delivery_ids


def deliveries_hand_over(delivery_ids: Sequence[UUID]) -> None:
    """Give new deliveries to the worker once their transaction has committed (at once when the
    statement that wrote them ran on its own, in autocommit)."""
    if delivery_ids:
        from webhooks.tasks import deliveries_enqueue  # the tasks import the services: late

        transaction.on_commit(partial(deliveries_enqueue, list(delivery_ids)), robust=True)


def emit_one(*, type: EventType, data: dict[str, Any], user_ids: Sequence[UUID]) -> list[UUID]:
    """emit() for a single event."""
    return emit([Event(type=type, data=data, user_ids=user_ids)])
