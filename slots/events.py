"""The slots' audit log: one append-only slot_events row per slot state change."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from core.context import current_request_id
from core.db.transactions import require_transaction
from slots.models import Slot, SlotEvent, SlotEventAction


def slot_event_build(
    *,
    slot: Slot,
    action: SlotEventAction,
    source: str,
    actor_id: UUID | None,
    old: Slot | None = None,
    new_status: str | None = None,
    request_id: str | None = None,
) -> SlotEvent:
    """An unsaved event for a change of `slot`; `old` is the slot as it was before the change.
    `request_id` None: the current request's, if any (core.context).

    A DELETED event has no new state: the row is gone.
    """
    gone = action == SlotEventAction.DELETED
    return SlotEvent(
        slot_id=slot.pk,
        host_id=slot.host_id,
        action=action,
        source=str(source),
        actor_id=actor_id,
        old_status=old.status if old else None,
        new_status=None if gone else (new_status or slot.status),
        old_start_time=old.start_time if old else None,
        old_end_time=old.end_time if old else None,
        old_capacity=old.capacity if old else None,
        new_start_time=None if gone else slot.start_time,
        new_end_time=None if gone else slot.end_time,
        new_capacity=None if gone else slot.capacity,
        request_id=request_id if request_id is not None else current_request_id(),
    )


def slot_events_record(events: Iterable[SlotEvent]) -> list[SlotEvent]:
    """Append events for changes the current transaction makes: they commit if and only if the
    changes do. Inside the service's atomic(), after the change. One INSERT for many."""
    require_transaction("slot_events_record()")
    return SlotEvent.objects.bulk_create(list(events))
