"""The root, the documentation views, and the envelope for unknown routes and crashes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
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

from core.api.exception_handler import error_response
from core.api.schema import errors
from core.api.viewsets import PublicApiViewSet, ok
from core.errors import (
    CsrfFailedError,
    EndpointNotFoundError,
    InternalError,
    ValidationFailedError,
)


class RootViewSet(PublicApiViewSet):
    @extend_schema(
        summary="Service name and links",
        description="The service's name and version, and where its documentation lives.",
        auth=[],  # public: credentials are ignored
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
