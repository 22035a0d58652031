"""OpenAPI building blocks: the one ErrorEnvelope, success envelopes, documented errors."""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from http import HTTPStatus
from typing import Any, ClassVar

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.plumbing import build_array_type, build_basic_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    inline_serializer,
)
from rest_framework import serializers

from core.errors import (
    ConstraintViolationError,
    DatabaseUnavailableError,
    DomainError,
    InternalError,
    InvalidTokenError,
    LockTimeoutError,
    MalformedAuthorizationError,
    MalformedJsonError,
    MethodNotAllowedError,
    MissingCredentialsError,
    PayloadTooLargeError,
    UnknownUserError,
    UnsupportedMediaTypeError,
    UserIdHeaderDisabledError,
    UserInactiveError,
    ValidationFailedError,
)


# Extensions: without them drf-spectacular warns on our own fields and authenticator, and
# `spectacular --validate --fail-on-warn` fails. Defined here because every view
# imports this module, so they are registered before any schema is generated.
class ApiAuthenticationScheme(OpenApiAuthenticationExtension):
    """Either a bearer token or the x-user-id header: two alternatives, not both."""

    target_class = "accounts.auth.ApiAuthentication"
    name = ["BearerAuth", "UserIdHeader"]

    def get_security_requirement(self, auto_schema: Any) -> None:  # type: ignore[override]
        # SPECTACULAR_SETTINGS["SECURITY"] already adds both alternatives to every operation;
        # repeating them here would list each twice.
        return None

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, str]]:
        return [
            {"type": "http", "scheme": "bearer"},
            {"type": "apiKey", "in": "header", "name": "x-user-id"},
        ]


class _FieldSchema(OpenApiSerializerFieldExtension):
    schema: ClassVar[dict[str, Any] | None] = build_basic_type(OpenApiTypes.STR)

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return dict(self.schema or {})


class StringFieldSchema(_FieldSchema):
    target_class = "core.api.fields.ContractField"
    match_subclasses = True  # StringField, EmailField, TimeZoneField, …


class InstantFieldSchema(_FieldSchema):
    target_class = "core.api.fields.InstantField"
    match_subclasses = True
    priority = 1  # over ContractField
    schema = build_basic_type(OpenApiTypes.DATETIME)


class UuidFieldSchema(_FieldSchema):
    target_class = "core.api.fields.UuidField"
    match_subclasses = True
    priority = 1
    schema = build_basic_type(OpenApiTypes.UUID)


class IntegerFieldSchema(_FieldSchema):
    target_class = "core.api.fields.QueryIntegerField"
    match_subclasses = True
    priority = 1
    schema = build_basic_type(OpenApiTypes.INT)


class BodyIntegerFieldSchema(IntegerFieldSchema):
    target_class = "core.api.fields.BodyIntegerField"


class EnumFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "core.api.fields.EnumField"
    match_subclasses = True
    priority = 1

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.target.choices)}


class RolesFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "accounts.serializers.RolesField"
    priority = 1

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        item = {"type": "string", "enum": list(self.target.item.choices)}
        return build_array_type(item, min_length=1)


class ErrorDetailItem(serializers.Serializer):
    path = serializers.CharField()
    message = serializers.CharField()


class ReasonField(serializers.CharField):
    """`reason` of the envelope; documented as the enum of every DomainError reason."""


class ReasonFieldSchema(OpenApiSerializerFieldExtension):
    target_class = ReasonField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        # Read at generation time, once every app's errors module has been imported, so reasons
        # that no single operation returns (ENDPOINT_NOT_FOUND) are documented too.
        return {"type": "string", "enum": sorted(DomainError.by_reason)}


class ErrorObject(serializers.Serializer):
    code = serializers.CharField(help_text="Generic code, one per HTTP status.")
    reason = ReasonField(help_text="Stable machine-readable reason; branch on this.")
    message = serializers.CharField()
    details = serializers.JSONField(
        required=False, help_text="Field errors [{path, message}] or an object for some reasons."
    )


class ErrorEnvelope(serializers.Serializer):
    success = serializers.BooleanField(default=False)
    error = ErrorObject()


class PageMeta(serializers.Serializer):
    page = serializers.IntegerField()
    limit = serializers.IntegerField()
    total = serializers.IntegerField()


@cache
def success(serializer_class: type[serializers.Serializer], *, many: bool = False) -> Any:
    """`{"success": true, "data": <serializer>}` (with `meta` for lists)."""
    name = serializer_class.__name__.removesuffix("Out")
    fields: dict[str, serializers.Field] = {
        "success": serializers.BooleanField(default=True),
        "data": serializer_class(many=many),
    }
    if many:
        fields["meta"] = PageMeta()
        return inline_serializer(name=f"{name}ListEnvelope", fields=fields)
    return inline_serializer(name=f"{name}Envelope", fields=fields)


ALWAYS = (MethodNotAllowedError, InternalError, DatabaseUnavailableError)
BODY = (MalformedJsonError, ValidationFailedError, PayloadTooLargeError, UnsupportedMediaTypeError)


def _example(error_class: type[DomainError]) -> OpenApiExample:
    payload: dict[str, Any] = {
        "code": error_class.code,
        "reason": error_class.reason,
        "message": error_class.default_message.replace("{n}", "5"),
    }
    if error_class is ValidationFailedError:
        payload["details"] = [{"path": "startTime", "message": "Invalid date"}]
    return OpenApiExample(error_class.reason, value={"success": False, "error": payload})


def errors(
    *error_classes: type[DomainError], auth: bool = True, body: bool = False
) -> dict[int, OpenApiResponse]:
    """Documented error responses of an operation, grouped by status, one example per reason."""
    chosen: list[type[DomainError]] = list(error_classes)
    if auth:
        chosen += [
            MissingCredentialsError,
            UnknownUserError,
            MalformedAuthorizationError,
            InvalidTokenError,
            UserInactiveError,
            UserIdHeaderDisabledError,
        ]
    if body:
        chosen += BODY
    if body or LockTimeoutError in chosen:
        chosen.append(ConstraintViolationError)  # any write: the database's backstop
    chosen += ALWAYS
    by_status: dict[int, list[type[DomainError]]] = defaultdict(list)
    for error_class in chosen:
        if error_class not in by_status[error_class.http_status]:
            by_status[error_class.http_status].append(error_class)
    return {
        status: OpenApiResponse(
            response=ErrorEnvelope,
            description=f"{HTTPStatus(status).phrase}: "
            + ", ".join(error_class.reason for error_class in classes),
            examples=[_example(error_class) for error_class in classes],
        )
        for status, classes in sorted(by_status.items())
    }


PAGE_PARAMETERS = [
    OpenApiParameter("page", int, description="1 to 1000000; default 1"),
    OpenApiParameter("limit", int, description="1 to 100; default 20"),
]
