"""Wire shapes of users. Wire names are camelCase; Python names snake_case."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator
from rest_framework import serializers

from accounts.models import Role
from core.api.fields import (
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
