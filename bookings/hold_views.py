"""Endpoints of holds, reschedule and the waitlist."""

from __future__ import annotations

from uuid import UUID

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.auth import has_staff_privileges, request_user
from bookings.errors import (
    AlreadyBookedError,
    AlreadyOnWaitlistError,
    BookingAlreadyCancelledError,
    BookingBeyondHorizonError,
    BookingNotFoundError,
    BookingNoticeTooShortError,
    BookingOwnSlotError,
    HoldExistsError,
    HoldExpiredError,
    HoldNotActiveError,
    HoldNotFoundError,
    HoldSlotMismatchError,
    HostAlreadyBookedError,
    MaxActiveBookingsError,
    RescheduleSameSlotError,
    RescheduleWindowClosedError,
    SlotInPastError,
    SlotNotFullError,
    WaitlistEntryNotFoundError,
)
from bookings.holds import hold_create, hold_release
from bookings.reschedule import booking_reschedule
from bookings.serializers import (
    BookingOut,
    HoldCreateIn,
    HoldOut,
    RescheduleIn,
    WaitlistEntryOut,
)
from bookings.waitlist import waitlist_join, waitlist_leave, waitlist_list
from core.api.fields import parse_uuid, query_dict, validate_input
from core.api.schema import PAGE_PARAMETERS, errors, success
from core.api.viewsets import ApiViewSet, PageQuery, listed, ok, paginate
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
from slots.selectors import slot_get

HOLD_CREATED = SuccessRenderer(HoldOut, status=201)
BOOKING_RESCHEDULED = SuccessRenderer(BookingOut, status=200)
BOOKING_CHECKS = (
    SlotNotAvailableError,
    SlotInPastError,
    BookingOwnSlotError,
    AlreadyBookedError,
    BookingNoticeTooShortError,
    BookingBeyondHorizonError,
    MaxActiveBookingsError,
    HostAlreadyBookedError,
)


def _slot_id(raw: str) -> UUID:
    parsed = parse_uuid(raw)
    if parsed is None:
        raise SlotNotFoundError()
    return parsed


class SlotHoldViewSet(ApiViewSet):
    @extend_schema(
        summary="Hold one place of a slot for a short time, to finish a checkout",
        description=(
            "Granted only when a booking would be granted now, with the same errors. The hold "
            "counts against the slot's places until it expires, is released, or is used by "
            "POST /api/bookings with its holdId. It never lasts past the slot's start."
        ),
        request=HoldCreateIn,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            201: success(HoldOut),
            **errors(
                *IDEMPOTENCY_ERRORS,
                SlotNotFoundError,
                HoldExistsError,
                *BOOKING_CHECKS,
                LockTimeoutError,
                body=True,
            ),
        },
    )
    def create(self, request: Request, slot_id: str) -> HttpResponse:
        user_id = request_user(request).pk
        parsed = parse_uuid(slot_id)

        def run(scope: IdempotencyScope) -> Outcome:
            data = validate_input(HoldCreateIn, request.data)
            if parsed is None:
                raise SlotNotFoundError()
            return recorded(
                scope,
                render=HOLD_CREATED,
                call=lambda claim: hold_create(
                    user_id=user_id,
                    slot_id=parsed,
                    ttl_seconds=data.get("ttlSeconds"),
                    idempotency=claim,
                ),
            )

        route = f"/api/slots/{parsed or slot_id}/holds"
        return idempotent_response(request, user_id=user_id, route=route, run=run)


class SlotHoldDetailViewSet(ApiViewSet):
    @extend_schema(
        summary="Release the caller's hold: its place is open again",
        description=(
            "Releases an active hold of the caller on this slot. The place becomes free at once "
            "(and is offered to the first user on the waitlist, if any)."
        ),
        responses={
            200: success(HoldOut),
            **errors(HoldNotFoundError, HoldNotActiveError, LockTimeoutError),
        },
    )
    def destroy(self, request: Request, slot_id: str, hold_id: str) -> Response:
        parsed_slot, parsed_hold = parse_uuid(slot_id), parse_uuid(hold_id)
        if parsed_slot is None or parsed_hold is None:
            raise HoldNotFoundError()
        hold = hold_release(
            hold_id=parsed_hold, slot_id=parsed_slot, user_id=request_user(request).pk
        )
        return ok(HoldOut(hold).data)


class BookingRescheduleViewSet(ApiViewSet):
    @extend_schema(
        summary="Move the caller's booking to another slot, keeping its id",
        description=(
            "All or nothing: the booking moves only if the new slot could be booked now "
            "(this booking does not count against the caller's limits) and the old slot is "
            "outside its host's cancellation cutoff. The place on the old slot is freed."
        ),
        request=RescheduleIn,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            200: success(BookingOut),
            **errors(
                *IDEMPOTENCY_ERRORS,
                BookingNotFoundError,
                NotOwnerError,
                SlotNotFoundError,
                BookingAlreadyCancelledError,
                RescheduleSameSlotError,
                RescheduleWindowClosedError,
                HoldNotFoundError,
                HoldSlotMismatchError,
                HoldExpiredError,
                *BOOKING_CHECKS,
                LockTimeoutError,
                body=True,
            ),
        },
    )
    def create(self, request: Request, booking_id: str) -> HttpResponse:
        user_id = request_user(request).pk
        parsed = parse_uuid(booking_id)

        def run(scope: IdempotencyScope) -> Outcome:
            data = validate_input(RescheduleIn, request.data)
            if parsed is None:
                raise BookingNotFoundError()
            return recorded(
                scope,
                render=BOOKING_RESCHEDULED,
                call=lambda claim: booking_reschedule(
                    booking_id=parsed,
                    user_id=user_id,
                    slot_id=data["slotId"],
                    hold_id=data.get("holdId"),
                    idempotency=claim,
                ),
            )

        route = f"/api/bookings/{parsed or booking_id}/reschedule"
        return idempotent_response(request, user_id=user_id, route=route, run=run)


class SlotWaitlistViewSet(ApiViewSet):
    @extend_schema(
        summary="Join the waitlist of a full slot",
        description=(
            "When a place frees, the earliest waiting user is offered it as a hold (holdId, "
            "offerExpiresAt); booking with that hold takes the place."
        ),
        request=None,
        responses={
            201: success(WaitlistEntryOut),
            **errors(
                SlotNotFoundError,
                SlotNotAvailableError,
                SlotInPastError,
                BookingOwnSlotError,
                AlreadyBookedError,
                AlreadyOnWaitlistError,
                SlotNotFullError,
                LockTimeoutError,
            ),
        },
    )
    def create(self, request: Request, slot_id: str) -> Response:
        entry = waitlist_join(user_id=request_user(request).pk, slot_id=_slot_id(slot_id))
        return ok(WaitlistEntryOut(entry).data, status=201)

    @extend_schema(
        summary="Leave the waitlist of a slot; an offered place passes to the next user",
        description=(
            "Removes the caller from the slot's waitlist. If a place was offered to the caller, "
            "the offer is withdrawn and passes to the next waiting user."
        ),
        responses={
            200: success(WaitlistEntryOut),
            **errors(SlotNotFoundError, WaitlistEntryNotFoundError, LockTimeoutError),
        },
    )
    def destroy(self, request: Request, slot_id: str) -> Response:
        entry = waitlist_leave(user_id=request_user(request).pk, slot_id=_slot_id(slot_id))
        return ok(WaitlistEntryOut(entry).data)

    @extend_schema(
        summary="The slot's waitlist in order: its host sees every entry, others their own",
        description=(
            "The waitlist entries of a slot in the order places are offered, paginated, with each "
            "waiting entry's position. The slot's host and staff see every entry; others see "
            "only their own."
        ),
        parameters=PAGE_PARAMETERS,
        responses={
            200: success(WaitlistEntryOut, many=True),
            **errors(SlotNotFoundError, ValidationFailedError),
        },
    )
    def list(self, request: Request, slot_id: str) -> Response:
        slot = slot_get(slot_id=parse_uuid(slot_id))
        query = validate_input(PageQuery, query_dict(request.query_params))
        caller = request_user(request)
        host_view = slot.host_id == caller.pk or has_staff_privileges(request)
        entries = waitlist_list(slot_id=slot.pk, viewer_id=caller.pk, host_view=host_view)
        rows, meta = paginate(entries, page=query["page"], limit=query["limit"])
        return listed(WaitlistEntryOut(rows, many=True).data, meta)
