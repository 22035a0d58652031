"""The day range of `report` and `export_bookings`, validated like GET /api/admin/analytics."""

from __future__ import annotations

from analytics.selectors import DayRange
from analytics.serializers import AnalyticsQuery
from slotbooking.cli import domain_details, usage_error
from slotbooking.errors import ValidationFailedError
from slotbooking.fields import validate_input


def day_range_of(start: str, end: str, zone: str | None) -> DayRange:
    """Whole days from `start` to `end` in `zone` (SPEC §9.1 rules); a usage error otherwise."""
    query = {"startDate": start, "endDate": end, "tz": zone or "UTC"}
    try:
        return validate_input(AnalyticsQuery, query)["day_range"]
    except ValidationFailedError as exc:
        raise usage_error(domain_details(exc)) from exc
