"""Wire shapes of users. Wire names are camelCase; Python names snake_case."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator
from rest_framework import serializers

from accounts.models import (
    CANCELLATION_CUTOFF_MINUTES_MAX,
    MAX_ACTIVE_PER_GUEST_MAX,
    MAX_ACTIVE_PER_GUEST_MIN,
    MAX_HORIZON_DAYS_MAX,
    MAX_HORIZON_DAYS_MIN,
    MIN_NOTICE_MINUTES_MAX,
    Role,
)
from core.api.fields import (
    BodyIntegerField,
    ContractField,
    EnumField,
    InstantField,
    StringField,
    TimeZoneField,
)

_email_validator = EmailValidator()


class EmailField(StringField):
    def to_internal_value(self, data: Any) -> str:
        email = super().to_internal_value(data)
        try:
            _email_validator(email)
        except DjangoValidationError:
            raise serializers.ValidationError("Invalid email format") from None
        if len(email) > 254:
            raise serializers.ValidationError("Email is too long")
        return email


class RolesField(ContractField):
    """A non-empty array of HOST/GUEST; duplicates dropped, first-seen order kept."""

    expected = "array"
    item = EnumField(Role.values)

    def to_internal_value(self, data: Any) -> list[str]:
        if not isinstance(data, list):
            self.fail_type(data)
        if not data:
            raise serializers.ValidationError("At least one role is required")
        failures: dict[int, str] = {}
        for index, value in enumerate(data):
            try:
                self.item.to_internal_value(value)
            except serializers.ValidationError as exc:
                failures[index] = str(exc.detail[0])  # type: ignore[index]
        if failures:
            # DRF accepts any mapping key (here the list index); its stub wants str keys only.
            raise serializers.ValidationError(failures)  # type: ignore[arg-type]
        return list(dict.fromkeys(data))


class UserCreateIn(serializers.Serializer):
    email = EmailField()
    name = StringField(
        trim=True,
        min_length=1,
        max_length=100,
        min_message="Name is required",
        max_message="Name is too long",
    )
    roles = RolesField(required=False, default=[Role.GUEST])
    timezone = TimeZoneField(required=False, default="UTC")


class UserPublicOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())
    timezone = serializers.CharField()
    createdAt = InstantField(source="created_at")
    updatedAt = InstantField(source="updated_at")


class UserOut(UserPublicOut):
    email = serializers.CharField()
    isStaff = serializers.BooleanField(source="is_staff")

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        # The contract's key order: id, email, name, roles, timezone, isStaff, times.
        order = ("id", "email", "name", "roles", "timezone", "isStaff", "createdAt", "updatedAt")
        return {key: data[key] for key in order}


class UserCreatedOut(UserOut):
    apiToken = serializers.CharField(help_text="Shown only once; store it.")

    def to_representation(self, instance: Any) -> dict[str, Any]:
        user, token = instance
        return {**UserOut(user).data, "apiToken": token}


class ApiTokenOut(serializers.Serializer):
    apiToken = serializers.CharField(source="token")
    createdAt = InstantField(source="api_token.created_at")


# Host booking policy ------------------------------------------------------------------------------
class HostPolicyIn(serializers.Serializer):
    """PUT replaces the whole policy: a field left out takes its default."""

    minNoticeMinutes = BodyIntegerField(
        min_value=0,
        max_value=MIN_NOTICE_MINUTES_MAX,
        required=False,
        default=0,
        help_text="bookings must start at least this many minutes ahead (default 0)",
    )
    maxHorizonDays = BodyIntegerField(
        min_value=MAX_HORIZON_DAYS_MIN,
        max_value=MAX_HORIZON_DAYS_MAX,
        required=False,
        allow_null=True,
        default=None,
        help_text="bookings may start at most this many days ahead; null: no limit (default)",
    )
    cancellationCutoffMinutes = BodyIntegerField(
        min_value=0,
        max_value=CANCELLATION_CUTOFF_MINUTES_MAX,
        required=False,
        allow_null=True,
        default=None,
        help_text=(
            "guests cancel at least this many minutes before the start (default: the server's "
            "cancellation window, 60 unless configured); 0 allows cancelling until the start"
        ),
    )
    maxActiveBookingsPerGuest = BodyIntegerField(
        min_value=MAX_ACTIVE_PER_GUEST_MIN,
        max_value=MAX_ACTIVE_PER_GUEST_MAX,
        required=False,
        default=1,
        help_text="active bookings one guest may hold with this host (default 1)",
    )


class HostPolicyOut(serializers.Serializer):
    minNoticeMinutes = serializers.IntegerField(source="min_notice_minutes")
    maxHorizonDays = serializers.IntegerField(source="max_horizon_days", allow_null=True)
    cancellationCutoffMinutes = serializers.IntegerField(source="cancellation_cutoff_minutes")
    maxActiveBookingsPerGuest = serializers.IntegerField(source="max_active_bookings_per_guest")
    updatedAt = InstantField(
        source="updated_at",
        allow_null=True,
        help_text="null while the host has never changed the default policy",
    )
