"""Wire shapes of slots."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.api.fields import (
    ArrayField,
    BodyBooleanField,
    BodyIntegerField,
    EnumField,
    InstantField,
    LocalDateField,
    TimeZoneField,
    UuidField,
    WallTimeField,
)
from core.api.viewsets import PageQuery
from core.db.instants import format_instant, now_ms
from core.limits import (
    CAPACITY_DEFAULT,
    CAPACITY_MAX,
    CAPACITY_MIN,
    SLOT_DURATION_MAX_MINUTES,
    SLOT_DURATION_MIN_MINUTES,
)
from slots.models import SlotStatus
from slots.rules import WEEKDAYS, slot_free_places, slot_time_errors
from slots.selectors import SlotRow


def capacity_field() -> BodyIntegerField:
    return BodyIntegerField(
        min_value=CAPACITY_MIN,
        max_value=CAPACITY_MAX,
        required=False,
        default=CAPACITY_DEFAULT,
        help_text=f"places on the slot, {CAPACITY_MIN} to {CAPACITY_MAX} (default 1)",
    )


class SlotCreateIn(serializers.Serializer):
    startTime = InstantField()
    endTime = InstantField()
    capacity = capacity_field()

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
    available = EnumField(["true", "false"], required=False)

    class Meta:
        # The contract lists page and limit last; DRF would put the inherited fields first.
        field_order = ("hostId", "startDate", "endDate", "status", "available", "page", "limit")

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        return {name: fields[name] for name in self.Meta.field_order}


class SlotOut(serializers.Serializer):
    id = serializers.UUIDField()
    hostId = serializers.UUIDField(source="host_id")
    hostName = serializers.CharField(source="host.name")
    startTime = InstantField(source="start_time")
    endTime = InstantField(source="end_time")
    capacity = serializers.IntegerField()
    remaining = serializers.SerializerMethodField(
        help_text="free places: 0 unless the slot is AVAILABLE"
    )
    status = serializers.ChoiceField(choices=SlotStatus.choices)
    createdAt = InstantField(source="created_at")
    updatedAt = InstantField(source="updated_at")

    def get_remaining(self, slot: Any) -> int:
        return slot_free_places(slot)


class SlotBookingOut(serializers.Serializer):
    bookingId = serializers.UUIDField()
    userId = serializers.UUIDField()
    userName = serializers.CharField()


class HostSlotOut(SlotOut):
    """A Slot plus its CONFIRMED bookings in creation order. For a slot of capacity 1 also
    `bookingId` and `bookedByUserId`, absent (not null) when it has none."""

    bookingId = serializers.UUIDField(
        required=False, help_text="only on slots of capacity 1 with a confirmed booking"
    )
    bookedByUserId = serializers.UUIDField(
        required=False, help_text="only on slots of capacity 1 with a confirmed booking"
    )
    bookings = SlotBookingOut(
        many=True,
        source="confirmed_bookings",
        required=False,
        help_text="the confirmed bookings, in creation order (the slot's host only)",
    )

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        confirmed = data["bookings"]
        if instance.capacity == 1 and confirmed:
            data["bookingId"] = confirmed[0]["bookingId"]
            data["bookedByUserId"] = confirmed[0]["userId"]
        else:
            data.pop("bookingId", None)
            data.pop("bookedByUserId", None)
        return data


class DeletedOut(serializers.Serializer):
    message = serializers.CharField()


# POST /api/slots/bulk ----------------------------------------------------------------------------
class BulkSlotIn(serializers.Serializer):
    startTime = InstantField()
    endTime = InstantField()
    capacity = capacity_field()


class SlotRuleIn(serializers.Serializer):
    timeZone = TimeZoneField(
        required=False, help_text="IANA time zone of the times (default: the host's)"
    )
    startDate = LocalDateField(help_text="first day, YYYY-MM-DD")
    endDate = LocalDateField(help_text="last day, YYYY-MM-DD (at most 366 days in all)")
    weekdays = ArrayField(child=EnumField(WEEKDAYS), help_text="days of the week, e.g. MON")
    times = ArrayField(child=WallTimeField(), help_text="local start times, HH:MM")
    durationMinutes = BodyIntegerField(
        min_value=SLOT_DURATION_MIN_MINUTES, max_value=SLOT_DURATION_MAX_MINUTES
    )
    capacity = capacity_field()


class SlotBulkIn(serializers.Serializer):
    slots = ArrayField(
        child=BulkSlotIn(), required=False, help_text="1 to 500 slots; or give `rule` instead"
    )
    rule = SlotRuleIn(required=False, help_text="a weekly rule; or give `slots` instead")
    skipConflicts = BodyBooleanField(
        required=False,
        default=False,
        help_text="skip slots that overlap existing ones instead of failing the whole request",
    )
    dryRun = BodyBooleanField(
        required=False, default=False, help_text="plan only: nothing is created"
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("slots" in attrs) == ("rule" in attrs):
            raise serializers.ValidationError("Provide exactly one of slots or rule")
        return attrs


class PlannedSlotOut(serializers.Serializer):
    startTime = InstantField(source="start_time")
    endTime = InstantField(source="end_time")
    capacity = serializers.IntegerField()


class SkippedSlotOut(serializers.Serializer):
    startTime = InstantField(source="start_time")
    endTime = InstantField(source="end_time")
    reason = serializers.CharField(
        help_text=(
            "NONEXISTENT_LOCAL_TIME (the local time does not exist on that day), SLOT_IN_PAST "
            "(it has started), SLOT_OVERLAP (it overlaps one of your slots; skipConflicts)"
        )
    )


class SlotBulkOut(serializers.Serializer):
    created = SlotOut(many=True)
    skipped = SkippedSlotOut(many=True)


class SlotBulkPlanOut(serializers.Serializer):
    planned = PlannedSlotOut(many=True)
    skipped = SkippedSlotOut(many=True)


# The same shapes as plain functions, for the hot reads (GET /api/slots, GET /api/slots/{id}):
# SlotOut's field machinery cost more than the query (bench/profile_reads.py). The classes above
# stay the published schema; slots/tests/test_fast_reads.py proves both give the same JSON.
def slot_out(slot: SlotRow) -> dict[str, Any]:
    """SlotOut of a SlotRow."""
    return {
        "id": str(slot.id),
        "hostId": str(slot.host_id),
        "hostName": slot.host_name,
        "startTime": format_instant(slot.start_time),
        "endTime": format_instant(slot.end_time),
        "capacity": slot.capacity,
        "remaining": slot_free_places(slot),
        "status": slot.status,
        "createdAt": format_instant(slot.created_at),
        "updatedAt": format_instant(slot.updated_at),
    }


def host_slot_out(slot: SlotRow, confirmed: list[dict[str, str]]) -> dict[str, Any]:
    """HostSlotOut of a SlotRow and its confirmed bookings {bookingId, userId, userName}."""
    data = slot_out(slot)
    data["bookings"] = [
        {"bookingId": b["bookingId"], "userId": b["userId"], "userName": b["userName"]}
        for b in confirmed
    ]
    if slot.capacity == 1 and confirmed:
        data["bookingId"] = confirmed[0]["bookingId"]
        data["bookedByUserId"] = confirmed[0]["userId"]
    return data
