"""Request ids and the one log line per request."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from core.api.exception_handler import as_domain_error, error_response
from core.context import request_context

logger = logging.getLogger("slotbooking.requests")


def _request_id(incoming: str | None) -> str:
    if incoming and len(incoming) <= 128 and all(0x20 <= ord(ch) <= 0x7E for ch in incoming):
        return incoming
    return str(uuid.uuid4())


class RequestIdMiddleware:
    """Reuses a sane incoming X-Request-Id or makes one; logs the request without its body."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id = _request_id(request.headers.get("X-Request-Id"))
        with request_context(request_id):  # logs, audit rows and queued tasks read it
            response = self.get_response(request)
        response["X-Request-Id"] = request_id
        fields = {
            "requestId": request_id,
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "durationMs": round((time.perf_counter() - started) * 1000, 1),
            "userId": str(getattr(request, "api_user_id", None) or "anonymous"),
        }
        reason = getattr(request, "error_reason", None)
        if reason:
            fields["reason"] = reason
        logger.info("%s %s %s", request.method, request.path, response.status_code, extra=fields)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if request.path.startswith("/admin/"):
            return None  # the admin keeps Django's own error pages
        error = as_domain_error(exception)
        request.error_reason = error.reason  # type: ignore[attr-defined]
        return error_response(error)
