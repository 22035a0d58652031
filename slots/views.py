"""Slot endpoints."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.auth import request_user
from core.api.fields import parse_uuid, query_dict, validate_input
from core.api.schema import PAGE_PARAMETERS, errors, success
from core.api.viewsets import ApiViewSet, listed, ok, paginate
from core.errors import (
    LockTimeoutError,
    NotAHostError,
    NotOwnerError,
    ValidationFailedError,
)
from core.idempotency.records import (
    IDEMPOTENCY_ERRORS,
    IDEMPOTENCY_KEY_PARAMETER,
    IdempotencyScope,
    Outcome,
    SuccessRenderer,
    idempotent_response,
    recorded,
)
from slots.errors import SlotHasBookingError, SlotNotFoundError, SlotOverlapError
from slots.selectors import slot_list
from slots.serializers import DeletedOut, SlotCreateIn, SlotListQuery, SlotOut
from slots.services import slot_create, slot_delete

SLOT_CREATED = SuccessRenderer(SlotOut, status=201)

LIST_PARAMETERS = [
    OpenApiParameter("hostId", str, description="only this host's slots (uuid)"),
    OpenApiParameter("startDate", str, description="slots starting at or after this instant"),
    OpenApiParameter("endDate", str, description="slots starting at or before this instant"),
    OpenApiParameter("status", str, enum=["AVAILABLE", "BOOKED", "CANCELLED"]),
    *PAGE_PARAMETERS,
]


class SlotViewSet(ApiViewSet):
    @extend_schema(
        summary="Publish a slot (HOST role)",
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
                render=SLOT_CREATED,
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


class SlotDetailViewSet(ApiViewSet):
    @extend_schema(
        summary="Delete a slot, or cancel it when it has booking history",
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
