"""Wire shapes of bookings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bookings.models import Booking, BookingStatus, HoldStatus, WaitlistStatus
from core.api.day_range import DayRangeQuery
from core.api.fields import BodyIntegerField, EnumField, InstantField, StringField, UuidField
from core.db.instants import format_instant
from slots.models import SlotStatus
from slots.serializers import DateRangeQuery


class BookingCreateIn(serializers.Serializer):
    slotId = UuidField(invalid="Invalid slot ID")
    holdId = UuidField(
        required=False,
        allow_null=True,
        invalid="Invalid hold ID",
        help_text="a hold of the caller's on this slot: the booking takes its place",
    )


class BookingListQuery(DateRangeQuery):
    status = EnumField(BookingStatus.values, required=False)
    startDate = InstantField(required=False, allow_number=False)
    endDate = InstantField(required=False, allow_number=False)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        order = ("status", "startDate", "endDate", "page", "limit")
        return {name: fields[name] for name in order}


class BookingSlotOut(serializers.Serializer):
    """The slot a booking is for."""

    id = serializers.UUIDField()
    hostId = serializers.UUIDField(source="host_id")
    hostName = serializers.CharField(source="host.name")
    startTime = InstantField(source="start_time")
    endTime = InstantField(source="end_time")
    status = serializers.ChoiceField(choices=SlotStatus.choices)


class BookingOut(serializers.Serializer):
    id = serializers.UUIDField()
    slotId = serializers.UUIDField(source="slot_id")
    userId = serializers.UUIDField(source="user_id")
    status = serializers.ChoiceField(choices=BookingStatus.choices)
    cancelledAt = InstantField(source="cancelled_at", allow_null=True)
    slot = BookingSlotOut()
    createdAt = InstantField(source="created_at")
    updatedAt = InstantField(source="updated_at")

    def to_representation(self, instance: Booking) -> dict[str, Any]:
        # Written out: every booking renders this twice (the answer and the webhook event), and
        # DRF's field-by-field walk costs several times more. The fields above stay the schema;
        # a test renders bookings both ways and compares.
        slot = instance.slot
        cancelled_at = instance.cancelled_at
        return {
            "id": str(instance.id),
            "slotId": str(instance.slot_id),
            "userId": str(instance.user_id),
            "status": instance.status,
            "cancelledAt": None if cancelled_at is None else format_instant(cancelled_at),
            "slot": {
                "id": str(slot.id),
                "hostId": str(slot.host_id),
                "hostName": slot.host.name,
                "startTime": format_instant(slot.start_time),
                "endTime": format_instant(slot.end_time),
                "status": slot.status,
            },
            "createdAt": format_instant(instance.created_at),
            "updatedAt": format_instant(instance.updated_at),
        }


class BookingCancelIn(serializers.Serializer):
    """The optional body of DELETE /api/bookings/{id}: a reason kept in the audit log."""

    reason = StringField(
        required=False,
        allow_null=True,
        max_length=500,
        max_message="Reason must be at most 500 characters",
    )


class BookingEventOut(serializers.Serializer):
    """One event in a booking's history: what changed, who changed it, from where and why."""

    id = serializers.UUIDField()
    createdAt = InstantField(source="created_at")
    bookingId = serializers.UUIDField(source="booking_id")
    action = serializers.CharField()
    actorId = serializers.UUIDField(source="actor_id", allow_null=True)
    # Not Field.source: SerializerMetaclass moves declared fields off the class at run time.
    source = serializers.CharField()  # type: ignore[assignment]
    oldStatus = serializers.CharField(source="old_status", allow_null=True)
    newStatus = serializers.CharField(source="new_status")
    oldSlotId = serializers.UUIDField(source="old_slot_id", allow_null=True)
    newSlotId = serializers.UUIDField(source="new_slot_id")
    reason = serializers.CharField(allow_null=True)
    requestId = serializers.CharField(source="request_id", allow_null=True)
    idempotencyKey = serializers.CharField(source="idempotency_key", allow_null=True)


class BookingExportQuery(DayRangeQuery):
    """The days exactly as GET /api/admin/analytics reads them, plus two filters."""

    status = EnumField(BookingStatus.values, required=False)
    hostId = UuidField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return {
            **super().validate(attrs),
            "status": attrs.get("status"),
            "host_id": attrs.get("hostId"),
        }


# Holds, reschedule and the waitlist -------------------------------------------------------------
class HoldCreateIn(serializers.Serializer):
    """The optional body of POST /api/slots/{id}/holds."""

    ttlSeconds = BodyIntegerField(
        min_value=30,
        max_value=86400,  # narrowed to HOLD_MAX_TTL_SECONDS in __init__, which settings may change
        required=False,
        help_text="how long the place is held, 30 seconds to the server's maximum (default 300)",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["ttlSeconds"].max_value = settings.HOLD_MAX_TTL_SECONDS  # type: ignore[attr-defined]


class HoldOut(serializers.Serializer):
    id = serializers.UUIDField()
    slotId = serializers.UUIDField(source="slot_id")
    userId = serializers.UUIDField(source="user_id")
    status = serializers.ChoiceField(choices=HoldStatus.choices)
    expiresAt = InstantField(source="expires_at")
    bookingId = serializers.UUIDField(
        source="booking_id", allow_null=True, help_text="the booking made with it, once CONSUMED"
    )
    createdAt = InstantField(source="created_at")


class RescheduleIn(serializers.Serializer):
    slotId = UuidField(invalid="Invalid slot ID")
    holdId = UuidField(
        required=False,
        allow_null=True,
        invalid="Invalid hold ID",
        help_text="a hold of the caller's on the new slot: the booking takes its place",
    )


class WaitlistEntryOut(serializers.Serializer):
    id = serializers.UUIDField()
    slotId = serializers.UUIDField(source="slot_id")
    userId = serializers.UUIDField(source="user_id")
    status = serializers.ChoiceField(choices=WaitlistStatus.choices)
    position = serializers.SerializerMethodField(
        help_text="1-based place among the WAITING entries; null unless WAITING"
    )
    holdId = serializers.SerializerMethodField(help_text="the offered hold, while OFFERED")
    offerExpiresAt = serializers.SerializerMethodField(help_text="while OFFERED")
    createdAt = InstantField(source="created_at")

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_position(self, entry: Any) -> int | None:
        if entry.status != WaitlistStatus.WAITING:
            return None
        return int(getattr(entry, "ahead", 0)) + 1

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_holdId(self, entry: Any) -> str | None:  # noqa: N802
        if entry.status != WaitlistStatus.OFFERED or entry.hold_id is None:
            return None
        return str(entry.hold_id)

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_offerExpiresAt(self, entry: Any) -> str | None:  # noqa: N802
        if entry.status != WaitlistStatus.OFFERED or entry.hold is None:
            return None
        return InstantField().to_representation(entry.hold.expires_at)
