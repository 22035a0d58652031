"""Booking endpoints (SPEC §3.4)."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
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
from bookings.selectors import booking_event_list, booking_get, booking_list_for_user
from bookings.serializers import (
    BookingCancelIn,
    BookingCreateIn,
    BookingEventOut,
    BookingListQuery,
    BookingOut,
)
from bookings.services import booking_cancel
from core.api.fields import parse_uuid, query_dict, validate_input
from core.api.schema import PAGE_PARAMETERS, errors, success
from core.api.viewsets import ApiViewSet, PageQuery, listed, ok, paginate, request_id
from core.errors import LockTimeoutError, NotOwnerError, ValidationFailedError
from core.idempotency.records import (
    IDEMPOTENCY_ERRORS,
    IDEMPOTENCY_KEY_PARAMETER,
    IdempotencyScope,
    Outcome,
    SuccessRenderer,
    idempotent_response,
    recorded,
)
from slots.errors import SlotNotAvailableError, SlotNotFoundError

NOT_BOOKING_VIEWER = "You can only view your own bookings"
BOOKING_CANCELLED = SuccessRenderer(BookingOut, status=200)


class BookingViewSet(ApiViewSet):
    @extend_schema(
        summary="Book a slot",
        request=BookingCreateIn,
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
                request_id=request_id(request),
            )

        user_id = request_user(request).pk
        return idempotent_response(request, user_id=user_id, route="/api/bookings", run=run)

    @extend_schema(
        summary="The caller's bookings as guest, newest first",
        parameters=[
            OpenApiParameter("status", str, enum=["CONFIRMED", "CANCELLED"]),
            OpenApiParameter("startDate", str, description="slot starts at or after"),
            OpenApiParameter("endDate", str, description="slot starts at or before"),
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
        responses={200: success(BookingOut), **errors(BookingNotFoundError, NotOwnerError)},
    )
    def retrieve(self, request: Request, booking_id: str) -> Response:
        booking = booking_get(booking_id=parse_uuid(booking_id))
        caller = request_user(request)
        allowed = caller.pk in (booking.user_id, booking.slot.host_id)
        if not allowed and not has_staff_privileges(request):
            raise NotOwnerError(NOT_BOOKING_VIEWER)
        return ok(BookingOut(booking).data)

    @extend_schema(
        summary="Cancel the caller's booking, at least the host's cutoff before the start",
        request=BookingCancelIn,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
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
                    request_id=request_id(request),
                    idempotency=claim,
                ),
            )

        route = f"/api/bookings/{parsed or booking_id}"  # the fingerprint's route with its id
        return idempotent_response(request, user_id=user_id, route=route, run=run)


class BookingHistoryViewSet(ApiViewSet):
    @extend_schema(
        summary="A booking's audit log, oldest first: its guest, the slot's host and staff",
        parameters=PAGE_PARAMETERS,
        responses={
            200: success(BookingEventOut, many=True),
            **errors(BookingNotFoundError, NotOwnerError, ValidationFailedError),
        },
    )
    def list(self, request: Request, booking_id: str) -> Response:
        booking = booking_get(booking_id=parse_uuid(booking_id))
        caller = request_user(request)
        allowed = caller.pk in (booking.user_id, booking.slot.host_id)
        if not allowed and not has_staff_privileges(request):
            raise NotOwnerError(NOT_BOOKING_VIEWER)
        query = validate_input(PageQuery, query_dict(request.query_params))
        events = booking_event_list(booking_id=booking.pk)
        rows, meta = paginate(events, page=query["page"], limit=query["limit"])
        return listed(BookingEventOut(rows, many=True).data, meta)
