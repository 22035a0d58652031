"""Root, health check, and the envelope for unknown routes and crashes (SPEC §3.1, §1.10)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema, inline_serializer
from drf_spectacular.views import SpectacularAPIView, SpectacularJSONAPIView, SpectacularSwaggerView
from rest_framework import serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.negotiation import BaseContentNegotiation, DefaultContentNegotiation
from rest_framework.permissions import BasePermission, OperandHolder, SingleOperandHolder
from rest_framework.request import Request
from rest_framework.response import Response

from bookings.dispatch import booking_queue_enabled, broker_probe
from slotbooking.api import PublicApiViewSet, ok
from slotbooking.errors import (
    CsrfFailedError,
    EndpointNotFoundError,
    InternalError,
    UnhealthyError,
    ValidationFailedError,
)
from slotbooking.exception_handler import error_body, error_headers, error_response
from slotbooking.instants import format_instant, now_ms
from slotbooking.schema import errors

PROBE_TIMEOUT_SECONDS = 2


def database_probe() -> str:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL statement_timeout = {PROBE_TIMEOUT_SECONDS * 1000}")
            cursor.execute("SELECT 1")
    except DatabaseError:
        return "error"
    return "ok"


class RootViewSet(PublicApiViewSet):
    @extend_schema(
        summary="Service name and links",
        description="The service's name and version, and where its documentation lives.",
        auth=[],  # public: credentials are ignored (SPEC §1.8)
        responses={
            200: inline_serializer(
                "RootEnvelope",
                {"success": serializers.BooleanField(), "data": serializers.DictField()},
            ),
            **errors(auth=False),
        },
    )
    def retrieve(self, request: Request) -> Response:
        return ok(
            {
                "name": "Slot Booking System API",
                "version": settings.VERSION,
                "documentation": "/docs",
                "health": "/api/health",
            }
        )


class HealthViewSet(PublicApiViewSet):
    @extend_schema(
        summary="Probes the database (and Redis in queued mode)",
        description="200 when every dependency answers; 503 UNHEALTHY with the failed checks.",
        auth=[],  # public: credentials are ignored (SPEC §1.8)
        responses={
            200: inline_serializer(
                "HealthEnvelope",
                {"success": serializers.BooleanField(), "data": serializers.DictField()},
            ),
            **errors(UnhealthyError, auth=False),
        },
    )
    def retrieve(self, request: Request) -> Response:
        checks = {"database": database_probe()}
        if booking_queue_enabled():  # queued mode cannot book without its broker (SPEC §3.1)
            checks["redis"] = broker_probe()
        if any(result != "ok" for result in checks.values()):
            error = UnhealthyError(details={"checks": checks})
            return Response(error_body(error), status=503, headers=error_headers(error))
        return ok({"status": "healthy", "timestamp": format_instant(now_ms()), "checks": checks})


@csrf_exempt  # an unknown path is unknown whatever the method: 404, not a CSRF 403
def endpoint_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Every unknown path, with or without credentials: 404 ENDPOINT_NOT_FOUND."""
    request.error_reason = EndpointNotFoundError.reason  # type: ignore[attr-defined]
    return error_response(EndpointNotFoundError())


def bad_request(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Requests Django refuses before routing (a Host header not in DJANGO_ALLOWED_HOSTS)."""
    error = ValidationFailedError(details=[{"path": "headers.host", "message": "Invalid host"}])
    return error_response(error)


def csrf_failure(request: HttpRequest, reason: str = "", **kwargs: Any) -> JsonResponse:
    """CSRF_FAILURE_VIEW: a form post without a valid CSRF token gets the envelope too."""
    request.error_reason = CsrfFailedError.reason  # type: ignore[attr-defined]
    return error_response(CsrfFailedError())


def server_error(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    return error_response(InternalError())


class PublicSchemaMixin:
    """The docs and schema are public and pick their format from `?format=` or Accept."""

    # Typed as on APIView, so that the mixin is compatible with the views it is mixed into.
    authentication_classes: Sequence[type[BaseAuthentication]] = ()
    permission_classes: Sequence[type[BasePermission] | OperandHolder | SingleOperandHolder] = ()
    content_negotiation_class: type[BaseContentNegotiation] = DefaultContentNegotiation


class SchemaView(PublicSchemaMixin, SpectacularAPIView):
    pass


class SchemaJsonView(PublicSchemaMixin, SpectacularJSONAPIView):
    pass


class DocsView(PublicSchemaMixin, SpectacularSwaggerView):
    pass
