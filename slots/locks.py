"""The only place that locks slot rows. Lock order everywhere: user → slot → booking."""

from __future__ import annotations

from uuid import UUID

from core.db.transactions import require_transaction
from slots.errors import SlotNotFoundError
from slots.models import Slot


def slot_lock(*, slot_id: UUID, for_delete: bool = False) -> Slot:
    """Lock the slot row and return it as it is now. Inside atomic(), after user_lock().

    FOR NO KEY UPDATE, so inserts of bookings that reference it are not blocked; FOR UPDATE
    (`for_delete`) when the row may be deleted. Raises SlotNotFoundError.
    """
    require_transaction("slot_lock()")
    # of=("self",): lock the slot only, not the host row that select_related joins in.
    query = Slot.objects.select_related("host").select_for_update(
        no_key=not for_delete, of=("self",)
    )
    slot = query.filter(pk=slot_id).first()
    if slot is None:
        raise SlotNotFoundError()
    return slot
