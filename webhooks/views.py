"""Webhook endpoints: register, list, show, remove, and read the delivery log."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.auth import has_staff_privileges, request_user
from slotbooking.api import ApiViewSet, PageQuery, listed, ok, paginate
from slotbooking.errors import LockTimeoutError, NotStaffError, ValidationFailedError
from slotbooking.fields import parse_uuid, query_dict, validate_input
from slotbooking.schema import PAGE_PARAMETERS, errors, success
from webhooks.errors import WebhookLimitReachedError, WebhookNotFoundError
from webhooks.selectors import webhook_delivery_list, webhook_endpoint_get, webhook_endpoint_list
from webhooks.serializers import (
    WebhookDeletedOut,
    WebhookCreatedOut,
    WebhookCreateIn,
    WebhookDeliveryOut,
    WebhookOut,
)
from webhooks.services import webhook_endpoint_create, webhook_endpoint_delete

EVENTS_HELP = (
    "Each event is a signed POST of `{id, type, createdAt, data}` to the URL: `data` is the "
    "Booking or the Slot. Events: booking.created, booking.cancelled, booking.rescheduled, "
    "slot.created, slot.cancelled, waitlist.offered. An endpoint hears of the events of "
    "bookings and slots where its owner is the guest or the host (all events with allEvents)."
)


class WebhookViewSet(ApiViewSet):
    @extend_schema(
        summary="Register a webhook endpoint",
        description=EVENTS_HELP
        + " The URL must use http or https and must not point at a private, loopback or "
        "link-local address. At most 10 endpoints per user; `allEvents` needs staff privileges. "
        "The answer holds the signing secret, shown only this once.",
        request=WebhookCreateIn,
        responses={
            201: success(WebhookCreatedOut),
            **errors(NotStaffError, WebhookLimitReachedError, LockTimeoutError, body=True),
        },
    )
    def create(self, request: Request) -> Response:
        data = validate_input(WebhookCreateIn, request.data)
        endpoint = webhook_endpoint_create(
            owner_id=request_user(request).pk,
            url=data["url"],
            events=data["events"],
            all_events=data["allEvents"],
            description=data.get("description") or "",
            staff=has_staff_privileges(request),
        )
        return ok(WebhookCreatedOut(endpoint).data, status=201)

    @extend_schema(
        summary="The caller's webhook endpoints, newest first",
        parameters=PAGE_PARAMETERS,
        responses={200: success(WebhookOut, many=True), **errors(ValidationFailedError)},
    )
    def list(self, request: Request) -> Response:
        query = validate_input(PageQuery, query_dict(request.query_params))
        endpoints = webhook_endpoint_list(owner_id=request_user(request).pk)
        rows, meta = paginate(endpoints, page=query["page"], limit=query["limit"])
        return listed(WebhookOut(rows, many=True).data, meta)


class WebhookDetailViewSet(ApiViewSet):
    @extend_schema(
        summary="One of the caller's webhook endpoints",
        responses={200: success(WebhookOut), **errors(WebhookNotFoundError)},
    )
    def retrieve(self, request: Request, webhook_id: str) -> Response:
        endpoint = webhook_endpoint_get(
            owner_id=request_user(request).pk, endpoint_id=parse_uuid(webhook_id)
        )
        return ok(WebhookOut(endpoint).data)

    @extend_schema(
        summary="Remove one of the caller's webhook endpoints and its delivery log",
        responses={
            200: success(WebhookDeletedOut),
            **errors(WebhookNotFoundError, LockTimeoutError),
        },
    )
    def destroy(self, request: Request, webhook_id: str) -> Response:
        parsed = parse_uuid(webhook_id)
        if parsed is None:
            raise WebhookNotFoundError()
        webhook_endpoint_delete(owner_id=request_user(request).pk, endpoint_id=parsed)
        return ok({"message": "Webhook deleted successfully"})


class WebhookDeliveryViewSet(ApiViewSet):
    @extend_schema(
        summary="An endpoint's deliveries, newest first, with every attempt",
        description=(
            "Each attempt records when it was made, the HTTP status or the error, its duration "
            "and the first 1 KiB of the answer. The log is kept for 30 days."
        ),
        parameters=PAGE_PARAMETERS,
        responses={
            200: success(WebhookDeliveryOut, many=True),
            **errors(WebhookNotFoundError, ValidationFailedError),
        },
    )
    def list(self, request: Request, webhook_id: str) -> Response:
        endpoint = webhook_endpoint_get(
            owner_id=request_user(request).pk, endpoint_id=parse_uuid(webhook_id)
        )
        query = validate_input(PageQuery, query_dict(request.query_params))
        deliveries = webhook_delivery_list(endpoint_id=endpoint.pk)
        rows, meta = paginate(deliveries, page=query["page"], limit=query["limit"])
        return listed(WebhookDeliveryOut(rows, many=True).data, meta)
