"""Rules of a slot shared by the API's validation, the services and the serializers.

The free-place rule lives here once: a slot takes a booking only while it is AVAILABLE and has
fewer CONFIRMED bookings plus active holds than places. PostgreSQL holds the same rule (the
CHECKs on slots and the booking and hold triggers); this is the copy that lets services answer
precisely before the database does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from slots.models import SlotStatus

# The days of a weekly rule, in ISO order (Monday first), as the API and the commands spell them.
WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


class SlotCounts(Protocol):
    # Read-only: a model instance and a selector's row (slots.selectors.SlotRow) both qualify.
    @property
    def status(self) -> str: ...
    @property
    def capacity(self) -> int: ...
    @property
    def booked_count(self) -> int: ...
    @property
    def held_count(self) -> int: ...


def slot_time_errors(
    *, start_time: datetime, end_time: datetime, now: datetime, allow_past: bool = False
) -> list[dict[str, str]]:
    """The cross-field failures of a new slot, as validation details; both can be reported."""
    errors = []
    if end_time <= start_time:
        errors.append({"path": "endTime", "message": "End time must be after start time"})
    if start_time <= now and not allow_past:
        errors.append({"path": "startTime", "message": "Start time must be in the future"})
    return errors


def slot_free_places(slot: SlotCounts) -> int:
    """Places still open to a booking: none unless the slot is AVAILABLE, else capacity minus
    its CONFIRMED bookings and its active holds. It does not look at the slot's time: a started
    slot may show places.

    Active holds are the `active_holds` the slot selectors annotate (holds whose expiry is still
    ahead); without it, `held_count`, which also counts lapsed holds not yet marked EXPIRED and
    is exact under the slot lock once they are (see bookings.places).
    """
    if slot.status != SlotStatus.AVAILABLE:
        return 0
    held = getattr(slot, "active_holds", None)
    if held is None:
        held = slot.held_count
    return max(slot.capacity - slot.booked_count - held, 0)


def slot_status_for(*, status: str, capacity: int, booked_count: int) -> str:
    """The status a slot must have for its count (a slot is BOOKED exactly when it is full;
    CANCELLED is final). What the booking trigger sets, for code that changes the capacity."""
    if status == SlotStatus.CANCELLED:
        return status
    return SlotStatus.BOOKED if booked_count >= capacity else SlotStatus.AVAILABLE
