"""Slot endpoints that show bookings: the host's list of slots and one slot, whose host also sees
its confirmed booking. They live here because slots know nothing of bookings."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.auth import request_user
from bookings.selectors import slot_row_for_viewer, with_confirmed_booking
from core.api.fields import parse_uuid, query_dict, validate_input
from core.api.schema import errors, success
from core.api.viewsets import ApiViewSet, listed, ok, paginate
from core.errors import ValidationFailedError
from slots.errors import SlotNotFoundError
from slots.selectors import slot_list
from slots.serializers import HostSlotOut, SlotListQuery, host_slot_out, slot_out
from slots.views import FILTER_PARAMETERS, SLOT_ID, SlotDetailViewSet, available_filter


class HostSlotViewSet(ApiViewSet):
    @extend_schema(
        summary="The caller's own slots, with their confirmed bookings",
        description=(
            "The slots the caller hosts, ordered by start time, each with its confirmed bookings "
            "and their guests."
        ),
        parameters=FILTER_PARAMETERS,
        responses={200: success(HostSlotOut, many=True), **errors(ValidationFailedError)},
    )
    def list(self, request: Request) -> Response:
        query = validate_input(SlotListQuery, query_dict(request.query_params))
        slots = slot_list(
            host_id=request_user(request).pk,  # a hostId given is validated, then ignored
            start_date=query.get("startDate"),
            end_date=query.get("endDate"),
            status=query.get("status"),
            available=available_filter(query),
        )
        rows, meta = paginate(
            with_confirmed_booking(slots), page=query["page"], limit=query["limit"]
        )
        return listed(HostSlotOut(rows, many=True).data, meta)


# GET and DELETE /api/slots/{id}. No docstring: drf-spectacular would publish it as the
# operations' description.
class SlotWithBookingDetailViewSet(SlotDetailViewSet):
    @extend_schema(
        summary="One slot; its host also sees the confirmed bookings",
        description="Any user may read a slot; its host also gets its confirmed bookings.",
        parameters=[SLOT_ID],
        responses={200: success(HostSlotOut), **errors(SlotNotFoundError)},
    )
    def retrieve(self, request: Request, slot_id: str) -> Response:
        slot, confirmed = slot_row_for_viewer(
            slot_id=parse_uuid(slot_id), viewer_id=request_user(request).pk
        )
        if confirmed is not None:  # the caller is the slot's host
            return ok(host_slot_out(slot, confirmed))
        return ok(slot_out(slot))
