"""Slot endpoints (SPEC §3.3)."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.auth import request_user
from bookings.idempotency import (
    IDEMPOTENCY_ERRORS,
    IDEMPOTENCY_KEY_PARAMETER,
    IdempotencyScope,
    Outcome,
    idempotent_response,
    recorded,
    success_outcome,
)
from slotbooking.api import ApiViewSet, listed, ok, paginate
from slotbooking.errors import (
    LockTimeoutError,
    NotAHostError,
    NotOwnerError,
    ValidationFailedError,
)
from slotbooking.fields import parse_uuid, query_dict, validate_input
from slotbooking.schema import (
    PAGE_PARAMETERS,
    UUID_SCHEMA,
    errors,
    instant_parameter,
    path_id,
    success,
)
from slots.errors import SlotHasBookingError, SlotNotFoundError, SlotOverlapError
from slots.selectors import slot_get, slot_list, with_confirmed_booking
from slots.serializers import DeletedOut, HostSlotOut, SlotCreateIn, SlotListQuery, SlotOut
from slots.services import slot_create, slot_delete

FILTER_PARAMETERS = [
    instant_parameter("startDate", "Only slots starting at or after this instant."),
    instant_parameter("endDate", "Only slots starting at or before this instant."),
    OpenApiParameter("status", str, enum=["AVAILABLE", "BOOKED", "CANCELLED"]),
    *PAGE_PARAMETERS,
]
LIST_PARAMETERS = [
    OpenApiParameter("hostId", UUID_SCHEMA, description="Only this host's slots."),
    *FILTER_PARAMETERS,
]
SLOT_ID = path_id("slot_id", "slot")


class SlotViewSet(ApiViewSet):
    @extend_schema(
        summary="Publish a slot (HOST role)",
        description=(
            "Creates a one-person slot of the caller, who must have the HOST role. The slot must "
            "start in the future, end after it starts, and not overlap another of the caller's "
            "slots that is not cancelled (touching ends are fine). Send an Idempotency-Key to "
            "retry safely."
        ),
        request=SlotCreateIn,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            201: success(SlotOut),
            **errors(
                *IDEMPOTENCY_ERRORS, NotAHostError, SlotOverlapError, LockTimeoutError, body=True
            ),
        },
    )
    def create(self, request: Request) -> HttpResponse:
        user_id = request_user(request).pk

        def run(scope: IdempotencyScope) -> Outcome:
            data = validate_input(SlotCreateIn, request.data)
            return recorded(
                scope,
                render=lambda slot: success_outcome(SlotOut(slot).data, status=201),
                call=lambda claim: slot_create(
                    host_id=user_id,
                    start_time=data["startTime"],
                    end_time=data["endTime"],
                    idempotency=claim,
                ),
            )

        return idempotent_response(request, user_id=user_id, route="/api/slots", run=run)

    @extend_schema(
        summary="List slots of every host and status, past ones included",
        description=(
            "Slots ordered by start time, filtered by host, time range and status. To find "
            "bookable slots ask for status=AVAILABLE and a startDate of now."
        ),
        parameters=LIST_PARAMETERS,
        responses={200: success(SlotOut, many=True), **errors(ValidationFailedError)},
    )
    def list(self, request: Request) -> Response:
        query = validate_input(SlotListQuery, query_dict(request.query_params))
        slots = slot_list(
            host_id=query.get("hostId"),
            start_date=query.get("startDate"),
            end_date=query.get("endDate"),
            status=query.get("status"),
        )
        rows, meta = paginate(slots, page=query["page"], limit=query["limit"])
        return listed(SlotOut(rows, many=True).data, meta)


class HostSlotViewSet(ApiViewSet):
    @extend_schema(
        summary="The caller's own slots, with their confirmed bookings",
        description=(
            "The slots the caller hosts, ordered by start time, each with its confirmed booking "
            "and guest when it has one."
        ),
        parameters=FILTER_PARAMETERS,
        responses={200: success(HostSlotOut, many=True), **errors(ValidationFailedError)},
    )
    def list(self, request: Request) -> Response:
        query = validate_input(SlotListQuery, query_dict(request.query_params))
        slots = slot_list(
            host_id=request_user(request).pk,  # hostId is validated, then ignored
            start_date=query.get("startDate"),
            end_date=query.get("endDate"),
            status=query.get("status"),
        )
        rows, meta = paginate(
            with_confirmed_booking(slots), page=query["page"], limit=query["limit"]
        )
        return listed(HostSlotOut(rows, many=True).data, meta)


class SlotDetailViewSet(ApiViewSet):
    @extend_schema(
        summary="One slot; its host also sees the confirmed booking",
        description="Any user may read a slot; its host also gets its confirmed booking.",
        parameters=[SLOT_ID],
        responses={200: success(HostSlotOut), **errors(SlotNotFoundError)},
    )
    def retrieve(self, request: Request, slot_id: str) -> Response:
        caller = request_user(request)
        slot = slot_get(slot_id=parse_uuid(slot_id), viewer_id=caller.pk)
        if slot.host_id == caller.pk:
            return ok(HostSlotOut(slot).data)
        return ok(SlotOut(slot).data)

    @extend_schema(
        summary="Delete a slot, or cancel it when it has booking history",
        description=(
            "Only the slot's host may delete it, and not while it has a confirmed booking. A slot "
            "whose bookings were all cancelled is kept as CANCELLED so that its history stays."
        ),
        parameters=[SLOT_ID],
        responses={
            200: success(DeletedOut),
            **errors(SlotNotFoundError, NotOwnerError, SlotHasBookingError, LockTimeoutError),
        },
    )
    def destroy(self, request: Request, slot_id: str) -> Response:
        parsed = parse_uuid(slot_id)
        if parsed is None:
            raise SlotNotFoundError()
        slot_delete(user_id=request_user(request).pk, slot_id=parsed)
        return ok({"message": "Slot deleted successfully"})
