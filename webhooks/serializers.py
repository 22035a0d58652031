"""Wire shapes of webhooks. Wire names are camelCase; Python names snake_case."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from core.api.fields import (
    BodyBooleanField,
    ContractField,
    EnumField,
    InstantField,
    StringField,
)
from webhooks.addresses import url_problem
from webhooks.models import EventType

MAX_DESCRIPTION = 500


class UrlField(StringField):
    def to_internal_value(self, data: Any) -> str:
        url = super().to_internal_value(data)
        problem = url_problem(url)
        if problem is not None:
            raise serializers.ValidationError(problem)
        return url


class EventTypesField(ContractField):
    """An array of event types; duplicates dropped, first-seen order kept."""

    expected = "array"
    item = EnumField(EventType.values)

    def to_internal_value(self, data: Any) -> list[str]:
        if not isinstance(data, list):
            self.fail_type(data)
        failures: dict[int, str] = {}
        for index, value in enumerate(data):
            try:
                self.item.to_internal_value(value)
            except serializers.ValidationError as exc:
                failures[index] = str(exc.detail[0])  # type: ignore[index]
        if failures:
            raise serializers.ValidationError(failures)  # type: ignore[arg-type]
        return list(dict.fromkeys(data))


class UrlFieldSchema(OpenApiSerializerFieldExtension):
    target_class = UrlField
    priority = 2  # over the generic string fields

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return {"type": "string", "format": "uri", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://"}


class EventTypesFieldSchema(OpenApiSerializerFieldExtension):
    target_class = EventTypesField
    priority = 2

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "string", "enum": list(EventType.values)}}


class WebhookCreateIn(serializers.Serializer):
    url = UrlField()
    events = EventTypesField(required=False, default=list)
    description = StringField(
        required=False,
        allow_null=True,
        max_length=MAX_DESCRIPTION,
        max_message=f"Description must be at most {MAX_DESCRIPTION} characters",
    )
    allEvents = BodyBooleanField(required=False, default=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs["events"] and not attrs["allEvents"]:
            raise serializers.ValidationError(
                {"events": "At least one event is required, unless allEvents is true"}
            )
        return attrs


class WebhookOut(serializers.Serializer):
    id = serializers.UUIDField()
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.ChoiceField(choices=EventType.choices))
    allEvents = serializers.BooleanField(source="all_events")
    description = serializers.CharField()
    isActive = serializers.BooleanField(source="is_active")
    deactivatedAt = InstantField(source="deactivated_at", allow_null=True)
    createdAt = InstantField(source="created_at")


class WebhookCreatedOut(WebhookOut):
    secret = serializers.CharField(
        help_text="The signing secret. Shown only in this answer: store it now."
    )


class WebhookAttemptOut(serializers.Serializer):
    number = serializers.IntegerField()
    attemptedAt = InstantField(source="created_at")
    statusCode = serializers.IntegerField(source="status_code", allow_null=True)
    error = serializers.CharField(help_text="Why there was no answer; empty when there was one.")
    durationMs = serializers.IntegerField(source="duration_ms", allow_null=True)
    responseBody = serializers.CharField(
        source="response_body", help_text="The first 1 KiB of the receiver's answer."
    )


class WebhookDeliveryOut(serializers.Serializer):
    id = serializers.UUIDField()
    eventId = serializers.UUIDField(source="event_id")
    eventType = serializers.CharField(source="event.type")
    status = serializers.ChoiceField(choices=["PENDING", "SUCCEEDED", "FAILED"])
    attemptCount = serializers.IntegerField(source="attempt_count")
    nextAttemptAt = InstantField(source="next_attempt_at", allow_null=True)
    deliveredAt = InstantField(source="delivered_at", allow_null=True)
    createdAt = InstantField(source="created_at")
    attempts = WebhookAttemptOut(many=True, help_text="Every attempt, oldest first.")


class WebhookDeletedOut(serializers.Serializer):
    message = serializers.CharField()
