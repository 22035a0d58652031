"""Booking endpoints."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.auth import has_staff_privileges, request_user
from bookings.dispatch import booking_request
from bookings.errors import (
    AlreadyBookedError,
    BookingAlreadyCancelledError,
    BookingBeyondHorizonError,
    BookingNotFoundError,
    BookingNoticeTooShortError,
    BookingOwnSlotError,
    CancellationWindowClosedError,
    HoldExpiredError,
    HoldNotFoundError,
    HoldSlotMismatchError,
    HostAlreadyBookedError,
    MaxActiveBookingsError,
    QueueTimeoutError,
    QueueUnavailableError,
    SlotInPastError,
)
from bookings.instrumentation import BookingCreateLimits
from bookings.renderers import BOOKING_CANCELLED
from bookings.selectors import (
    booking_event_list,
    booking_get_for_viewer,
    booking_list_for_user,
)
from bookings.serializers import (
    BookingCancelIn,
    BookingCreateIn,
    BookingEventOut,
    BookingListQuery,
    BookingOut,
)
from bookings.services import booking_cancel
from core.api.fields import parse_uuid, query_dict, validate_input
from core.api.schema import PAGE_PARAMETERS, errors, instant_parameter, path_id, success
from core.api.viewsets import ApiViewSet, PageQuery, listed, ok, paginate
from core.errors import LockTimeoutError, NotOwnerError, RateLimitedError, ValidationFailedError
from core.idempotency.records import (
    IDEMPOTENCY_ERRORS,
    IDEMPOTENCY_KEY_PARAMETER,
    IdempotencyScope,
    Outcome,
    idempotent_response,
    recorded,
)
from slots.errors import SlotNotAvailableError, SlotNotFoundError

NOT_BOOKING_VIEWER = "You can only view your own bookings"
RATE_LIMIT_DESCRIPTION = (
    "Limited per user: by default 10 requests per 60 seconds, every request counted, invalid "
    "and replayed ones included. Every authenticated answer carries X-RateLimit-Limit, "
    "X-RateLimit-Remaining and X-RateLimit-Reset (Unix seconds when the window ends); past the "
    "limit the answer is 429 RATE_LIMITED with Retry-After, and nothing is run or recorded "
    "under the Idempotency-Key."
)
BOOKING_ID = path_id("booking_id", "booking")
BOOKED_EXAMPLE = OpenApiExample(
    "Booked",
    response_only=True,
    status_codes=["201"],
    value={
        "success": True,
        "data": {
            "id": "6f1c2a53-1f8e-4d39-9a53-2f3f0c8b9e41",
            "slotId": "0b7e8f2a-3c4d-4e5f-8a9b-1c2d3e4f5a6b",
            "userId": "17fbffe9-2fa4-46f2-8919-ee191c32b712",
            "status": "CONFIRMED",
            "cancelledAt": None,
            "slot": {
                "id": "0b7e8f2a-3c4d-4e5f-8a9b-1c2d3e4f5a6b",
                "hostId": "6e4bd37e-5a3c-4b1e-9f0a-8d7c6b5a4e3f",
                "hostName": "Alice Host",
                "startTime": "2030-02-01T10:00:00.000Z",
                "endTime": "2030-02-01T11:00:00.000Z",
                "status": "BOOKED",
            },
            "createdAt": "2030-01-15T08:30:00.000Z",
            "updatedAt": "2030-01-15T08:30:00.000Z",
        },
    },
)


class BookingViewSet(BookingCreateLimits, ApiViewSet):  # rate limit right after authentication
    @extend_schema(
        summary="Book a slot",
        description=(
            "Books the slot for the caller. Refused when the slot is full, has started, is the "
            "caller's own, or when the host's booking policy or the caller's limit of active "
            "bookings forbids it. cancelledAt stays null until the booking is cancelled. Send an "
            "Idempotency-Key to retry safely: a repeat replays the first answer. "
            + RATE_LIMIT_DESCRIPTION
        ),
        request=BookingCreateIn,
        examples=[BOOKED_EXAMPLE],
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            201: success(BookingOut),
            **errors(
                *IDEMPOTENCY_ERRORS,
                QueueUnavailableError,
                QueueTimeoutError,
                SlotInPastError,
                BookingOwnSlotError,
                SlotNotFoundError,
                HoldNotFoundError,
                HoldSlotMismatchError,
                HoldExpiredError,
                SlotNotAvailableError,
                AlreadyBookedError,
                BookingNoticeTooShortError,
                BookingBeyondHorizonError,
                MaxActiveBookingsError,
                HostAlreadyBookedError,
                LockTimeoutError,
                RateLimitedError,
                body=True,
            ),
        },
    )
    def create(self, request: Request) -> HttpResponse:
        def run(scope: IdempotencyScope) -> Outcome:
            data = validate_input(BookingCreateIn, request.data)
            return booking_request(
                scope=scope,
                slot_id=data["slotId"],
                hold_id=data.get("holdId"),
            )

        user_id = request_user(request).pk
        return idempotent_response(request, user_id=user_id, route="/api/bookings", run=run)

    @extend_schema(
        summary="The caller's bookings as guest, newest first",
        description="The bookings the caller made, filtered by status and by the slot's start.",
        parameters=[
            OpenApiParameter("status", str, enum=["CONFIRMED", "CANCELLED"]),
            instant_parameter("startDate", "Only bookings whose slot starts at or after this."),
            instant_parameter("endDate", "Only bookings whose slot starts at or before this."),
            *PAGE_PARAMETERS,
        ],
        responses={200: success(BookingOut, many=True), **errors(ValidationFailedError)},
    )
    def list(self, request: Request) -> Response:
        query = validate_input(BookingListQuery, query_dict(request.query_params))
        bookings = booking_list_for_user(
            user_id=request_user(request).pk,
            status=query.get("status"),
            start_date=query.get("startDate"),
            end_date=query.get("endDate"),
        )
        rows, meta = paginate(bookings, page=query["page"], limit=query["limit"])
        return listed(BookingOut(rows, many=True).data, meta)


class BookingDetailViewSet(ApiViewSet):
    @extend_schema(
        summary="One booking: its guest, the slot's host and staff may see it",
        description="A booking with its slot, for its guest, the slot's host and staff.",
        parameters=[BOOKING_ID],
        responses={200: success(BookingOut), **errors(BookingNotFoundError, NotOwnerError)},
    )
    def retrieve(self, request: Request, booking_id: str) -> Response:
        booking = booking_get_for_viewer(
            booking_id=parse_uuid(booking_id),
            viewer_id=request_user(request).pk,
            staff=has_staff_privileges(request),
        )
        return ok(BookingOut(booking).data)

    @extend_schema(
        summary="Cancel the caller's booking, at least the host's cutoff before the start",
        description=(
            "Cancels a booking of the caller, which frees its place in the slot. Allowed until "
            "the host's cancellation cutoff before the slot's start (1 hour unless the host set "
            'another). The optional body {"reason": "..."} is kept in the booking\'s history.'
        ),
        request=BookingCancelIn,
        parameters=[BOOKING_ID, IDEMPOTENCY_KEY_PARAMETER],
        responses={
            200: success(BookingOut),
            **errors(
                *IDEMPOTENCY_ERRORS,
                BookingNotFoundError,
                NotOwnerError,
                BookingAlreadyCancelledError,
                CancellationWindowClosedError,
                LockTimeoutError,
            ),
        },
    )
    def destroy(self, request: Request, booking_id: str) -> HttpResponse:
        user_id = request_user(request).pk
        parsed = parse_uuid(booking_id)

        def run(scope: IdempotencyScope) -> Outcome:
            reason = validate_input(BookingCancelIn, request.data).get("reason")  # before 404
            if parsed is None:
                raise BookingNotFoundError()
            return recorded(
                scope,
                render=BOOKING_CANCELLED,
                call=lambda claim: booking_cancel(
                    booking_id=parsed,
                    actor_id=user_id,
                    reason=reason,
                    idempotency=claim,
                ),
            )

        route = f"/api/bookings/{parsed or booking_id}"  # the fingerprint's route with its id
        return idempotent_response(request, user_id=user_id, route=route, run=run)


class BookingHistoryViewSet(ApiViewSet):
    @extend_schema(
        summary="A booking's audit log, oldest first: its guest, the slot's host and staff",
        description=(
            "Every change of the booking (created, cancelled), who made it, from where "
            "(API, admin, command) and why."
        ),
        parameters=[BOOKING_ID, *PAGE_PARAMETERS],
        responses={
            200: success(BookingEventOut, many=True),
            **errors(BookingNotFoundError, NotOwnerError, ValidationFailedError),
        },
    )
    def list(self, request: Request, booking_id: str) -> Response:
        booking = booking_get_for_viewer(
            booking_id=parse_uuid(booking_id),
            viewer_id=request_user(request).pk,
            staff=has_staff_privileges(request),
        )
        query = validate_input(PageQuery, query_dict(request.query_params))
        events = booking_event_list(booking_id=booking.pk)
        rows, meta = paginate(events, page=query["page"], limit=query["limit"])
        return listed(BookingEventOut(rows, many=True).data, meta)
