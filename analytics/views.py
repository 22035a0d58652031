"""GET /api/admin/analytics, staff only."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.auth import IsStaff
from analytics.selectors import analytics_report
from analytics.serializers import AnalyticsOut, analytics_data
from core.api.day_range import DayRangeQuery, query_for_range
from core.api.fields import query_dict, validate_input
from core.api.schema import errors, success
from core.api.viewsets import ApiViewSet, ok
from core.errors import (
    NotStaffError,
    QueryTimeoutError,
    StaffTokenRequiredError,
    ValidationFailedError,
)

DATE_OR_INSTANT = {
    "oneOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]
}


class AnalyticsViewSet(ApiViewSet):
    permission_classes = (IsStaff,)

    @extend_schema(
        summary="Booking analytics over whole days in a time zone (staff)",
        description=(
            "Totals, the cancellation rate, bookings per day and the busiest hosts for the days "
            "from start_date to end_date (both included) in the time zone tz."
        ),
        parameters=[
            OpenApiParameter(
                "start_date",
                DATE_OR_INSTANT,
                required=True,
                description="First day: a date or an instant.",
            ),
            OpenApiParameter(
                "end_date",
                DATE_OR_INSTANT,
                required=True,
                description="Last day: a date or an instant.",
            ),
            OpenApiParameter("tz", str, description="IANA time zone name; default UTC."),
        ],
        responses={
            200: success(AnalyticsOut),
            **errors(
                ValidationFailedError, NotStaffError, StaffTokenRequiredError, QueryTimeoutError
            ),
        },
    )
    def retrieve(self, request: Request) -> Response:
        query = validate_input(DayRangeQuery, query_for_range(query_dict(request.query_params)))
        return ok(analytics_data(analytics_report(day_range=query["day_range"])))
