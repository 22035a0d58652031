"""The reasons of the calendar endpoints."""

from __future__ import annotations

from core.errors import NotFoundError


class CalendarNotFoundError(NotFoundError):
    reason = "CALENDAR_NOT_FOUND"
    default_message = "Calendar not found"
