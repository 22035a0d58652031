"""OpenAPI building blocks: the one ErrorEnvelope, success envelopes, documented errors."""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from http import HTTPStatus
from typing import Any, ClassVar

from drf_spectacular.drainage import set_override
from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.openapi import AutoSchema
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

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = super().map_serializer_field(auto_schema, direction)
        # Lengths count after trimming where a field trims, which JSON Schema cannot say.
        if not getattr(self.target, "trim", True):
            if self.target.min_length is not None:
                schema["minLength"] = self.target.min_length
            if self.target.max_length is not None:
                schema["maxLength"] = self.target.max_length
        return schema


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

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return {
            **super().map_serializer_field(auto_schema, direction),
            "minimum": self.target.min_value,
            "maximum": self.target.max_value,
        }


class BodyBooleanFieldSchema(_FieldSchema):
    target_class = "core.api.fields.BodyBooleanField"
    priority = 1
    schema = build_basic_type(OpenApiTypes.BOOL)


class LocalDateFieldSchema(_FieldSchema):
    target_class = "core.api.fields.LocalDateField"
    priority = 1
    schema = build_basic_type(OpenApiTypes.DATE)


class WallTimeFieldSchema(_FieldSchema):
    target_class = "core.api.fields.WallTimeField"
    priority = 1
    schema = {"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]$"}


class ArrayFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "core.api.fields.ArrayField"
    match_subclasses = True
    priority = 1

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        item = auto_schema._map_serializer_field(self.target.child, direction)
        schema = build_array_type(item)
        for key, attribute in (("minItems", "min_items"), ("maxItems", "max_items")):
            if getattr(self.target, attribute, None) is not None:
                schema[key] = getattr(self.target, attribute)
        return schema


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
        return {**build_array_type(item), "minItems": 1}


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
        envelope = inline_serializer(name=f"{name}ListEnvelope", fields=fields)
        # A list operation answers one envelope object whose `data` is the array; without this
        # drf-spectacular would document an array of envelopes.
        set_override(envelope, "many", False)
        return envelope
    return inline_serializer(name=f"{name}Envelope", fields=fields)


ALWAYS = (MethodNotAllowedError, InternalError, DatabaseUnavailableError)
BODY = (MalformedJsonError, ValidationFailedError, PayloadTooLargeError, UnsupportedMediaTypeError)


def _example(error_class: type[DomainError]) -> OpenApiExample:
    payload: dict[str, Any] = {
        "code": error_class.code,
        "reason": error_class.reason,
        "message": error_class.default_message.replace("{n}", "5").replace("{d}", "2 hour(s)"),
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
    OpenApiParameter(
        "page",
        {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 1},
        description="Page number, from 1.",
    ),
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
        description="Items per page.",
    ),
]
UUID_SCHEMA = {"type": "string", "format": "uuid"}
INSTANT_SCHEMA = {"type": "string", "format": "date-time"}


def instant_parameter(name: str, description: str, *, required: bool = False) -> OpenApiParameter:
    """A query parameter holding an ISO 8601 instant such as 2030-01-01T10:00:00Z."""
    return OpenApiParameter(name, INSTANT_SCHEMA, required=required, description=description)


def path_id(name: str, what: str) -> OpenApiParameter:
    return OpenApiParameter(
        name, UUID_SCHEMA, location=OpenApiParameter.PATH, description=f"The {what}'s id."
    )


# OPERATIONS ---------------------------------------------------------------------------------
# The tags themselves, with their descriptions, are SPECTACULAR_SETTINGS["TAGS"].
_TAG_BY_PREFIX = [
    ("/api/users/me/calendar-token", "calendars"),
    ("/api/hosts", "calendars"),
    ("/api/bookings/{booking_id}.ics", "calendars"),
    ("/api/webhooks", "webhooks"),
    ("/api/admin/bookings", "bookings"),
    ("/api/users", "users"),
    ("/api/slots", "slots"),
    ("/api/bookings", "bookings"),
    ("/api/admin/analytics", "analytics"),
]


class ApiAutoSchema(AutoSchema):
    """Tags by resource, descriptions only where written for users, and DELETE bodies."""

    def get_tags(self) -> list[str]:
        path = "/" + self.path.lstrip("/")
        for prefix, tag in _TAG_BY_PREFIX:
            if path.startswith(prefix):
                return [tag]
        return ["health"]

    def get_description(self) -> str:  # type: ignore[override]
        # Docstrings of views are written for developers; operations carry the descriptions
        # given to extend_schema(description=...) only.
        return ""

    def _resolve_path_parameters(self, variables: list[str]) -> list[dict[str, Any]]:
        # Every path segment named <thing>_id is a uuid (an id that is not one answers 404).
        parameters = super()._resolve_path_parameters(variables)
        for parameter in parameters:
            name = parameter["name"]
            if name.endswith("_id"):
                parameter["schema"] = dict(UUID_SCHEMA)
                parameter.setdefault("description", f"The {name[:-3].replace('_', ' ')}'s id.")
        return parameters

    def get_request_serializer(self) -> Any:
        # Without request= in extend_schema a DELETE has no body (our views have no
        # serializer_class to guess from).
        if self.method == "DELETE":
            return None
        return super().get_request_serializer()

    def _get_request_body(self, direction: str = "request") -> Any:
        # drf-spectacular documents bodies for POST, PUT and PATCH only; DELETE
        # /api/bookings/{id} takes an optional one ({"reason"}), declared with request=.
        if self.method != "DELETE" or self.get_request_serializer() is None:
            return super()._get_request_body(direction)
        self.method = "POST"
        try:
            body = super()._get_request_body(direction)
        finally:
            self.method = "DELETE"
        if body:
            body["required"] = False
        return body
