"""OpenAPI building blocks: the one ErrorEnvelope, success envelopes, documented errors."""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from http import HTTPStatus
from typing import Any

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    inline_serializer,
)
from rest_framework import serializers

from slotbooking.errors import (
    DatabaseUnavailableError,
    DomainError,
    InternalError,
    MalformedJsonError,
    MethodNotAllowedError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    ValidationFailedError,
)


class ErrorDetailItem(serializers.Serializer):  # type: ignore[type-arg]
    path = serializers.CharField()
    message = serializers.CharField()


class ErrorObject(serializers.Serializer):  # type: ignore[type-arg]
    code = serializers.CharField(help_text="Generic code, one per HTTP status (SPEC §1.3).")
    reason = serializers.CharField(help_text="Stable machine-readable reason; branch on this.")
    message = serializers.CharField()
    details = serializers.JSONField(
        required=False, help_text="Field errors [{path, message}] or an object for some reasons."
    )


class ErrorEnvelope(serializers.Serializer):  # type: ignore[type-arg]
    success = serializers.BooleanField(default=False)
    error = ErrorObject()


class PageMeta(serializers.Serializer):  # type: ignore[type-arg]
    page = serializers.IntegerField()
    limit = serializers.IntegerField()
    total = serializers.IntegerField()


@cache
def success(serializer_class: type[serializers.Serializer], *, many: bool = False) -> Any:  # type: ignore[type-arg]
    """`{"success": true, "data": <serializer>}` (with `meta` for lists)."""
    name = serializer_class.__name__.removesuffix("Out")
    fields: dict[str, serializers.Field] = {  # type: ignore[type-arg]
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
    from accounts.errors import (
        InvalidTokenError,
        MalformedAuthorizationError,
        MissingCredentialsError,
        UnknownUserError,
        UserIdHeaderDisabledError,
        UserInactiveError,
    )

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
