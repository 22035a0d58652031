"""The day range of `report` and `export_bookings`, validated like GET /api/admin/analytics."""

from __future__ import annotations

from core.api.day_range import DayRangeQuery
from core.api.fields import validate_input
from core.cli.kit import domain_details, usage_error
from core.day_range import DayRange
from core.errors import ValidationFailedError


def day_range_of(start: str, end: str, zone: str | None) -> DayRange:
    """Whole days from `start` to `end` in `zone`, as the API validates them; a usage error
    otherwise."""
    query = {"startDate": start, "endDate": end, "tz": zone or "UTC"}
    try:
        return validate_input(DayRangeQuery, query)["day_range"]
    except ValidationFailedError as exc:
        raise usage_error(domain_details(exc)) from exc
