"""The reasons of the webhook endpoints."""

from __future__ import annotations

from core.errors import ConflictError, NotFoundError


class WebhookNotFoundError(NotFoundError):
    reason = "WEBHOOK_NOT_FOUND"
    default_message = "Webhook not found"


class WebhookLimitReachedError(ConflictError):
    reason = "WEBHOOK_LIMIT_REACHED"
    default_message = "You can register at most {n} webhooks"
