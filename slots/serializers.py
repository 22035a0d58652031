"""Wire shapes of slots."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.api.fields import EnumField, InstantField, UuidField
from core.api.viewsets import PageQuery
from core.db.instants import now_ms
from slots.models import SlotStatus
from slots.rules import slot_time_errors


class SlotCreateIn(serializers.Serializer):
    startTime = InstantField()
    endTime = InstantField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        problems = slot_time_errors(
            start_time=attrs["startTime"], end_time=attrs["endTime"], now=now_ms()
        )
        if problems:
            raise serializers.ValidationError({p["path"]: p["message"] for p in problems})
        return attrs


class DateRangeQuery(PageQuery):
    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("startDate"), attrs.get("endDate")
        if start is not None and end is not None and end < start:
            raise serializers.ValidationError(
                {"endDate": "End date must be on or after start date"}
            )
        return attrs


class SlotListQuery(DateRangeQuery):
    hostId = UuidField(required=False)
    startDate = InstantField(required=False, allow_number=False)
    endDate = InstantField(required=False, allow_number=False)
    status = EnumField(SlotStatus.values, required=False)

    class Meta:
        # The contract lists page and limit last; DRF would put the inherited fields first.
        field_order = ("hostId", "startDate", "endDate", "status", "page", "limit")

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        return {name: fields[name] for name in self.Meta.field_order}


class SlotOut(serializers.Serializer):
    id = serializers.UUIDField()
    hostId = serializers.UUIDField(source="host_id")
    hostName = serializers.CharField(source="host.name")
    startTime = InstantField(source="start_time")
    endTime = InstantField(source="end_time")
    status = serializers.ChoiceField(choices=SlotStatus.choices)
    createdAt = InstantField(source="created_at")
    updatedAt = InstantField(source="updated_at")


class HostSlotOut(SlotOut):
    """A Slot plus its CONFIRMED booking; both keys absent (not null) when there is none."""

    bookingId = serializers.UUIDField(source="confirmed_booking_id", required=False)
    bookedByUserId = serializers.UUIDField(source="confirmed_user_id", required=False)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        for key in ("bookingId", "bookedByUserId"):
            if data.get(key) is None:
                data.pop(key, None)
        return data


class DeletedOut(serializers.Serializer):
    message = serializers.CharField()
