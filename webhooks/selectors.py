"""Reads of webhooks for the API and the admin."""

from __future__ import annotations

from uuid import UUID

from django.db.models import Prefetch, QuerySet

from webhooks.errors import WebhookNotFoundError
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


def webhook_endpoint_list(*, owner_id: UUID) -> QuerySet[WebhookEndpoint]:
    """The owner's endpoints, newest first, `id` as tiebreak."""
    return WebhookEndpoint.objects.filter(owner_id=owner_id).order_by("-created_at", "-id")


def webhook_endpoint_get(*, owner_id: UUID, endpoint_id: UUID | None) -> WebhookEndpoint:
    """The owner's endpoint. Raises WebhookNotFoundError, also for someone else's."""
    found = (
        WebhookEndpoint.objects.filter(pk=endpoint_id, owner_id=owner_id).first()
        if endpoint_id
        else None
    )
    if found is None:
        raise WebhookNotFoundError()
    return found


def webhook_delivery_list(*, endpoint_id: UUID) -> QuerySet[WebhookDelivery]:
    """An endpoint's deliveries, newest first, `id` as tiebreak, with their event and attempts."""
    return (
        WebhookDelivery.objects.filter(endpoint_id=endpoint_id)
        .select_related("event")
        .prefetch_related(Prefetch("attempts", queryset=WebhookAttempt.objects.order_by("number")))
        .order_by("-created_at", "-id")
    )
