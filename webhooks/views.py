"""Webhook endpoints: register, list, show, remove, and read the delivery log."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.auth import has_staff_privileges, request_user
from core.api.fields import parse_uuid, query_dict, validate_input
from core.api.schema import PAGE_PARAMETERS, errors, success
from core.api.viewsets import ApiViewSet, PageQuery, listed, ok, paginate
from core.errors import LockTimeoutError, NotStaffError, ValidationFailedError
from webhooks.errors import WebhookLimitReachedError, WebhookNotFoundError
from webhooks.selectors import webhook_delivery_list, webhook_endpoint_get, webhook_endpoint_list
from webhooks.serializers import (
    WebhookCreatedOut,
    WebhookCreateIn,
    WebhookDeletedOut,
    WebhookDeliveryOut,
    WebhookOut,
)
from webhooks.services import webhook_endpoint_create, webhook_endpoint_delete

EVENTS_HELP = """\
After each change that concerns the endpoint's owner (as the guest of a booking or the host of
a slot; every change with `allEvents`), Slot Booking POSTs one JSON message to the URL:

```json
{"id": "<event uuid>", "type": "booking.created", "createdAt": "2026-02-01T09:00:00.000Z",
 "data": {"id": "…", "slotId": "…", "userId": "…", "status": "CONFIRMED", "…": "…"}}
```

| type | data |
|---|---|
| `booking.created`, `booking.cancelled` | the Booking, as `GET /api/bookings/{id}` shows it |
| `slot.created`, `slot.cancelled` | the Slot (cancelled: deleted, or kept with its history) |
| `booking.rescheduled` | `{"booking", "previousSlot"}` |
| `waitlist.offered` | `{"entry", "hold"}` |

Headers: `Content-Type: application/json`, `User-Agent: SlotBooking-Webhooks/1`,
`X-SlotBooking-Event: <type>`, `X-SlotBooking-Event-Id: <event id>`,
`X-SlotBooking-Signature: t=<unix seconds>,v1=<hex>`. `v1` is HMAC-SHA256, keyed with the
endpoint's secret, of `"<t>.<raw body>"`: recompute it over the raw bytes, compare in constant
time, and reject a `t` older than 5 minutes.

Delivery is at least once, in no guaranteed order: deduplicate by the event id, which every
retry repeats. Answer 2xx within the timeout (10 s by default); redirects are not followed;
`410 Gone` deactivates the endpoint; anything else is retried after 1, 2, 4, … minutes (at most
6 hours apart, ±10 %), 20 attempts in all by default."""


class WebhookViewSet(ApiViewSet):
    @extend_schema(
        summary="Register a webhook endpoint",
        description="The URL must use http or https and must not point at a private, loopback "
        "or link-local address. At most 10 endpoints per user; `allEvents` needs staff "
        "privileges. The answer holds the signing secret, shown only this once.\n\n" + EVENTS_HELP,
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
        description=(
            "The endpoints registered by the caller, paginated. The signing secret is never shown "
            "again after registration."
        ),
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
        description=(
            "One endpoint registered by the caller; 404 WEBHOOK_NOT_FOUND for anyone else's."
        ),
        responses={200: success(WebhookOut), **errors(WebhookNotFoundError)},
    )
    def retrieve(self, request: Request, webhook_id: str) -> Response:
        endpoint = webhook_endpoint_get(
            owner_id=request_user(request).pk, endpoint_id=parse_uuid(webhook_id)
        )
        return ok(WebhookOut(endpoint).data)

    @extend_schema(
        summary="Remove one of the caller's webhook endpoints and its delivery log",
        description=(
            "Deletes the endpoint; nothing more is sent to it and its delivery log goes with it."
        ),
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
