"""Rules of a slot's times, shared by the API's validation and slot_create."""

from __future__ import annotations

from datetime import datetime


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
