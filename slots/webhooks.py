"""What the slot services announce through the webhook outbox, rendered on this side.

The webhooks app sits below slots and cannot render a Slot, so the payload's `data` (the Slot
representation of the API) and the user concerned (the host) are built here.
"""

from __future__ import annotations

from collections.abc import Iterable

from slots.models import Slot
from slots.serializers import SlotOut
from webhooks.events import Event, emit
from webhooks.models import EventType


def slot_webhook_emit(*, slots: Iterable[Slot], type: EventType) -> None:
    """Write one event per slot to the outbox, in one statement. Inside the service's
    transaction, after the change; each slot's host must be loaded (for hostName)."""
    emit(Event(type=type, data=dict(SlotOut(slot).data), user_ids=[slot.host_id]) for slot in slots)
