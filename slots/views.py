"""Slot endpoints."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.auth import request_user
from core.api.fields import parse_uuid, query_dict, validate_input
from core.api.schema import (
    PAGE_PARAMETERS,
    UUID_SCHEMA,
    errors,
    instant_parameter,
    path_id,
    success,
)
from core.api.viewsets import ApiViewSet, listed, ok
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
    success_outcome,
)
from slots.errors import SlotHasBookingError, SlotNotFoundError, SlotOverlapError
from slots.selectors import slot_list_page
from slots.serializers import (
    DeletedOut,
    SlotBulkIn,
    SlotBulkOut,
    SlotBulkPlanOut,
    SlotCreateIn,
    SlotListQuery,
    SlotOut,
    slot_out,
)
from slots.services import (
    PlannedSlot,
    SlotBulkResult,
    SlotRule,
    slot_bulk_create,
    slot_create,
    slot_delete,
)

SLOT_CREATED = SuccessRenderer(SlotOut, status=201)

FILTER_PARAMETERS = [
    instant_parameter("startDate", "Only slots starting at or after this instant."),
    instant_parameter("endDate", "Only slots starting at or before this instant."),
    OpenApiParameter("status", str, enum=["AVAILABLE", "BOOKED", "CANCELLED"]),
    OpenApiParameter(
        "available",
        str,
        enum=["true", "false"],
        description=(
            "true: only slots that can be booked now (AVAILABLE, a place left, not started); "
            "false: all the others"
        ),
    ),
    *PAGE_PARAMETERS,
]
LIST_PARAMETERS = [
    OpenApiParameter("hostId", UUID_SCHEMA, description="Only this host's slots."),
    *FILTER_PARAMETERS,
]
SLOT_ID = path_id("slot_id", "slot")


def available_filter(query: dict[str, object]) -> bool | None:
    value = query.get("available")
    return None if value is None else value == "true"


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
                render=SLOT_CREATED,
                call=lambda claim: slot_create(
                    host_id=user_id,
                    start_time=data["startTime"],
                    end_time=data["endTime"],
                    capacity=data["capacity"],
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
        page, limit = query["page"], query["limit"]
        rows, total = slot_list_page(
            page=page,
            limit=limit,
            host_id=query.get("hostId"),
            start_date=query.get("startDate"),
            end_date=query.get("endDate"),
            status=query.get("status"),
            available=available_filter(query),
        )
        meta = {"page": page, "limit": limit, "total": total}
        return listed([slot_out(row) for row in rows], meta)


class SlotDetailViewSet(ApiViewSet):
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


def _bulk_outcome(result: SlotBulkResult) -> Outcome:
    if result.dry_run:
        plan = {"planned": result.planned, "skipped": result.skipped}
        return success_outcome(SlotBulkPlanOut(plan).data, status=200)
    created = {"created": result.created, "skipped": result.skipped}
    return success_outcome(SlotBulkOut(created).data, status=201)


def _rule(data: dict[str, Any]) -> SlotRule:
    return SlotRule(
        start_date=data["startDate"],
        end_date=data["endDate"],
        weekdays=data["weekdays"],
        times=data["times"],
        duration_minutes=data["durationMinutes"],
        capacity=data["capacity"],
        time_zone=data.get("timeZone"),
    )


class SlotBulkViewSet(ApiViewSet):
    @extend_schema(
        summary="Publish many slots at once, from a list or a weekly rule (HOST role)",
        description=(
            "Give exactly one of `slots` (1 to 500 slots) or `rule` (a weekly rule in a time "
            "zone: every listed weekday from startDate to endDate, at each local time, for "
            "durationMinutes of elapsed time). A local time that does not exist on a "
            "daylight-saving change is skipped (NONEXISTENT_LOCAL_TIME); an ambiguous one takes "
            "its first occurrence; occurrences that have started are skipped (SLOT_IN_PAST). "
            "All slots are created together or none: a slot overlapping one of yours fails the "
            "request with 409 SLOT_OVERLAP and `details.conflicts`, unless `skipConflicts` skips "
            "it (SLOT_OVERLAP in `skipped`). `dryRun` answers 200 with the plan and writes "
            "nothing."
        ),
        request=SlotBulkIn,
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        responses={
            201: success(SlotBulkOut),
            200: success(SlotBulkPlanOut),
            **errors(
                *IDEMPOTENCY_ERRORS, NotAHostError, SlotOverlapError, LockTimeoutError, body=True
            ),
        },
    )
    def create(self, request: Request) -> HttpResponse:
        user_id = request_user(request).pk

        def run(scope: IdempotencyScope) -> Outcome:
            data = validate_input(SlotBulkIn, request.data)
            rule = _rule(data["rule"]) if "rule" in data else None
            slots = (
                [PlannedSlot(s["startTime"], s["endTime"], s["capacity"]) for s in data["slots"]]
                if "slots" in data
                else None
            )
            return recorded(
                scope,
                render=_bulk_outcome,
                call=lambda claim: slot_bulk_create(
                    host_id=user_id,
                    rule=rule,
                    slots=slots,
                    skip_conflicts=data["skipConflicts"],
                    dry_run=data["dryRun"],
                    idempotency=claim,
                ),
            )

        return idempotent_response(request, user_id=user_id, route="/api/slots/bulk", run=run)
