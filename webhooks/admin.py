"""Back-office pages for webhooks: endpoints, the outbox's deliveries and their attempts."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin.kit import ReadOnlyAdmin, ReadOnlyInline
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services import webhook_redeliver


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    """Endpoints are registered by their owners through the API; staff look and may remove."""

    list_display = ("url", "owner", "all_events", "is_active", "deactivated_at", "created_at")
    list_select_related = ("owner",)
    list_filter = ("is_active", "all_events")
    search_fields = ("url", "owner__email")
    readonly_fields = ("owner", "url", "events", "all_events", "description", "is_active")
    exclude = ("secret", "busy_until")
    uuid_search_fields = ("id", "owner_id")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)


class WebhookAttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    fields = ("number", "created_at", "status_code", "error", "duration_ms", "response_body")
    readonly_fields = fields
    ordering = ("number",)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "event_type",
        "event_id",
        "endpoint",
        "status",
        "attempt_count",
        "next_attempt_at",
        "delivered_at",
    )
    list_select_related = ("event", "endpoint")
    list_filter = ("status", "event__type")
    search_fields = ("endpoint__url",)
    uuid_search_fields = ("id", "event_id", "endpoint_id")
    ordering = ("-created_at",)
    fields = (
        "event",
        "endpoint",
        "status",
        "attempt_count",
        "next_attempt_at",
        "delivered_at",
        "created_at",
        "payload",
    )
    readonly_fields = fields
    inlines = (WebhookAttemptInline,)
    actions = ("redeliver",)

    @admin.display(description="event")
    def event_type(self, delivery: WebhookDelivery) -> str:
        return delivery.event.type

    @admin.display(description="payload")
    def payload(self, delivery: WebhookDelivery) -> str:
        return delivery.event.body

    @admin.action(description="Redeliver selected deliveries now")
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        wanted = list(queryset.values_list("id", flat=True))
        scheduled = webhook_redeliver(delivery_ids=wanted)
        if scheduled:
            self.message_user(
                request, f"{len(scheduled)} deliveries scheduled again", messages.SUCCESS
            )
        skipped = len(wanted) - len(scheduled)
        if skipped:
            self.message_user(
                request,
                f"{skipped} deliveries skipped: their endpoint is inactive",
                messages.WARNING,
            )
