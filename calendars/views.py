"""Calendar endpoints: a booking as an .ics file, and the host's subscription feed."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.auth import has_staff_privileges, request_user
from bookings.errors import BookingNotFoundError
from bookings.selectors import booking_get
from calendars.errors import CalendarNotFoundError
from calendars.ics import booking_ics, host_feed_ics
from calendars.selectors import booking_sequence, calendar_feed_slots, calendar_host_get
from calendars.serializers import CalendarTokenOut
from calendars.services import calendar_token_rotate
from core.api.fields import parse_uuid
from core.api.schema import errors, success
from core.api.viewsets import ApiViewSet, PublicApiViewSet, ok
from core.db.instants import now_ms
from core.errors import LockTimeoutError, NotAHostError, NotOwnerError

CALENDAR = "text/calendar; charset=utf-8"
NOT_BOOKING_VIEWER = "You can only view your own bookings"
ICS_RESPONSE = OpenApiResponse(
    response=OpenApiTypes.BINARY, description="An iCalendar file (RFC 5545), text/calendar"
)


def _calendar_response(body: bytes, **headers: str) -> HttpResponse:
    response = HttpResponse(body, content_type=CALENDAR)
    for name, value in headers.items():
        response[name] = value
    return response


class BookingCalendarViewSet(ApiViewSet):
    @extend_schema(
        summary="A booking as an iCalendar file: its guest, the slot's host and staff",
        description=(
            "One VEVENT with UID `<booking id>@slot-booking`, UTC start and end, "
            "`STATUS:CONFIRMED` or `CANCELLED`, and a SEQUENCE that grows with each change, "
            "so a calendar that imported it before updates the same entry."
        ),
        responses={
            (200, "text/calendar"): ICS_RESPONSE,
            **errors(BookingNotFoundError, NotOwnerError),
        },
    )
    def retrieve(self, request: Request, booking_id: str) -> HttpResponse:
        booking = booking_get(booking_id=parse_uuid(booking_id))
        caller = request_user(request)
        allowed = caller.pk in (booking.user_id, booking.slot.host_id)
        if not allowed and not has_staff_privileges(request):
            raise NotOwnerError(NOT_BOOKING_VIEWER)
        body = booking_ics(
            booking=booking, sequence=booking_sequence(booking_id=booking.pk), now=now_ms()
        )
        return _calendar_response(
            body, **{"Content-Disposition": f'attachment; filename="booking-{booking.pk}.ics"'}
        )


class CalendarTokenViewSet(ApiViewSet):
    @extend_schema(
        summary="Rotate the caller's calendar feed token (hosts)",
        description=(
            "Returns the feed URL with a new token; the previous URL stops working at once. "
            "The token opens only the feed, never the API."
        ),
        request=None,
        responses={
            200: success(CalendarTokenOut),
            **errors(NotAHostError, LockTimeoutError),
        },
    )
    def rotate(self, request: Request) -> Response:
        host = request_user(request)
        token = calendar_token_rotate(host_id=host.pk)
        path = f"/api/hosts/{host.pk}/calendar.ics?token={token}"
        return ok({"calendarUrl": path, "absoluteUrl": request.build_absolute_uri(path)})


class HostCalendarViewSet(PublicApiViewSet):
    @extend_schema(
        summary="A host's slots as a calendar feed to subscribe to",
        description=(
            "No other authentication: the token from `POST /api/users/me/calendar-token` is "
            "the credential. Lists the host's slots that are not cancelled and started at most "
            "30 days ago or later, each `Available` or `Booked: <guest names>`."
        ),
        parameters=[OpenApiParameter("token", str, required=True, description="feed token")],
        responses={
            (200, "text/calendar"): ICS_RESPONSE,
            **errors(CalendarNotFoundError, auth=False),
        },
        auth=[],
    )
    def retrieve(self, request: Request, host_id: str) -> HttpResponse:
        host = calendar_host_get(
            host_id=parse_uuid(host_id), token=request.query_params.get("token")
        )
        now = now_ms()
        slots, guests = calendar_feed_slots(host_id=host.pk, now=now)
        body = host_feed_ics(host_name=host.name, slots=slots, guests=guests, now=now)
        return _calendar_response(body, **{"Cache-Control": "private, max-age=300"})
