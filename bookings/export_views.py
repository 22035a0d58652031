"""GET /api/admin/bookings.csv: the bookings export, staff only, streamed."""

from __future__ import annotations

import itertools
from collections.abc import Generator, Iterator

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request

from accounts.auth import IsStaff
from bookings.export import booking_csv_stream
from bookings.models import BookingStatus
from bookings.serializers import BookingExportQuery
from core.api.day_range import query_for_range
from core.api.fields import query_dict, validate_input
from core.api.schema import errors
from core.api.viewsets import ApiViewSet
from core.errors import (
    NotStaffError,
    QueryTimeoutError,
    StaffTokenRequiredError,
    ValidationFailedError,
)

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
# Lines are sent in pieces of about this size: one socket write per piece, not per booking.
PIECE_BYTES = 64 * 1024


def _pieces(head: list[str], rest: Generator[str, None, None]) -> Iterator[bytes]:
    piece, size = head, sum(map(len, head))
    try:
        for line in rest:
            piece.append(line)
            size += len(line)
            if size >= PIECE_BYTES:
                yield "".join(piece).encode("utf-8")
                piece, size = [], 0
        if piece:
            yield "".join(piece).encode("utf-8")
    finally:
        rest.close()  # a client that hung up: end the read transaction now


class BookingExportViewSet(ApiViewSet):
    permission_classes = (IsStaff,)

    @extend_schema(
        summary="Bookings created in a range of whole days, as CSV (staff)",
        description=(
            "One row per booking, ordered by creation time then id, with the columns bookingId, "
            "status, createdAt, cancelledAt, slotId, slotStartTime, slotEndTime, hostId, "
            "hostName, hostEmail, guestId, guestName, guestEmail. The days are read as in the "
            "analytics. Cells that would start a spreadsheet formula get a leading '. The file "
            "is streamed, so exports of any size start at once."
        ),
        parameters=[
            OpenApiParameter("start_date", str, required=True, description="date or instant"),
            OpenApiParameter("end_date", str, required=True, description="date or instant"),
            OpenApiParameter("tz", str, description="IANA time zone; default UTC"),
            OpenApiParameter("status", str, enum=BookingStatus.values),
            OpenApiParameter("hostId", OpenApiTypes.UUID, description="only this host's slots"),
        ],
        responses={
            (200, CSV_CONTENT_TYPE): OpenApiResponse(OpenApiTypes.STR, description="the CSV"),
            **errors(
                ValidationFailedError, NotStaffError, StaffTokenRequiredError, QueryTimeoutError
            ),
        },
    )
    def retrieve(self, request: Request) -> StreamingHttpResponse:
        query = validate_input(
            BookingExportQuery, query_for_range(query_dict(request.query_params))
        )
        day_range = query["day_range"]
        lines = booking_csv_stream(
            day_range=day_range, status=query["status"], host_id=query["host_id"]
        )
        # The header, then the first booking: fetching it runs the query, so a timeout or an
        # outage is still answered with its JSON envelope before any CSV is sent.
        head = list(itertools.islice(lines, 2))
        response = StreamingHttpResponse(_pieces(head, lines), content_type=CSV_CONTENT_TYPE)
        name = f"bookings-{day_range.start_day.isoformat()}-{day_range.end_day.isoformat()}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
