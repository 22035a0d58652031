"""One place renders every error into one envelope:
`{"success": false, "error": {"code", "reason", "message", "details"?}}`."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response

from core.api.fields import _details
from core.db.transactions import translate_database_error
from core.errors import (
    DomainError,
    EndpointNotFoundError,
    InternalError,
    MalformedJsonError,
    MethodNotAllowedError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    ValidationFailedError,
)

logger = logging.getLogger("core.errors")
WWW_AUTHENTICATE = 'Bearer realm="slot-booking"'


def as_domain_error(exc: BaseException) -> DomainError:
    """The DomainError any exception stands for; defects become a logged INTERNAL_ERROR."""
    if isinstance(exc, DomainError):
        return exc
    if isinstance(exc, exceptions.MethodNotAllowed):
        return MethodNotAllowedError()
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return UnsupportedMediaTypeError()
    if isinstance(exc, exceptions.ParseError):
        return MalformedJsonError()
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLargeError()
    if isinstance(exc, exceptions.ValidationError):
        return ValidationFailedError(details=_details(exc.detail))
    if isinstance(exc, Http404 | exceptions.NotFound):
        return EndpointNotFoundError()
    if isinstance(exc, DatabaseError):
        translated = translate_database_error(exc)
        if translated is not None:
            return translated
    if isinstance(exc, DjangoPermissionDenied | exceptions.PermissionDenied):
        logger.error("permission denied outside the contract", exc_info=exc)
    else:
        logger.error("unhandled exception", exc_info=exc)
    # The fixed message only: exception text never reaches a client, even with DEBUG on.
    return InternalError()


def error_body(error: DomainError) -> dict[str, Any]:
    return {"success": False, "error": error.as_payload()}


def error_headers(error: DomainError) -> dict[str, str]:
    headers = {}
    if error.retry_after:
        headers["Retry-After"] = str(error.retry_after)
    if error.http_status == 401:
        headers["WWW-Authenticate"] = WWW_AUTHENTICATE
    headers.update(error.headers)  # e.g. Idempotency-Key with QUEUE_TIMEOUT
    return headers


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: any exception raised in a view → the envelope."""
    error = as_domain_error(exc)
    request = context.get("request")
    if request is not None:
        request._request.error_reason = error.reason  # for the request log line
    return Response(error_body(error), status=error.http_status, headers=error_headers(error))


def error_response(error: DomainError) -> JsonResponse:
    """The same envelope outside DRF (routing 404s, middleware, handler500)."""
    response = JsonResponse(
        error_body(error),
        status=error.http_status,
        json_dumps_params={"separators": (",", ":"), "ensure_ascii": False},
    )
    for name, value in error_headers(error).items():
        response[name] = value
    response["Content-Type"] = "application/json; charset=utf-8"
    return response
