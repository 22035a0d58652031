"""Request ids, the one log line per request, and the site-only middleware the API skips."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest, HttpResponse
from django.middleware import csrf

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


# SITE-ONLY MIDDLEWARE ---------------------------------------------------------------------------
# The admin is a browser site: it needs sessions, CSRF, the logged-in user and messages. The API
# (/api/…) needs none of them: callers authenticate with a token or x-user-id on every request
# (a session cookie is ignored), DRF views are CSRF-exempt, and no API response sets a cookie.
# These four therefore step aside for /api/ paths, which spares every API request their work
# (bench/profile_reads.py), and run unchanged for everything else. Security, CORS, common and
# clickjacking headers, metrics, request ids and size limits still run for every request.
API_PREFIX = "/api/"


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIX)


def site_only(middleware_class: type[Any]) -> type[Any]:
    """`middleware_class`, skipped for API requests: they go straight to the next layer."""

    class SiteOnly(middleware_class):
        async_capable = False  # the sync handler (WSGI) only; Django adapts the layers around

        def __call__(self, request: HttpRequest) -> HttpResponse:
            if is_api_path(request.path_info):
                return self.get_response(request)
            return super().__call__(request)

        if hasattr(middleware_class, "process_view"):  # CSRF's check of the view

            def process_view(
                self,
                request: HttpRequest,
                callback: Callable[..., Any],
                callback_args: Any,
                callback_kwargs: Any,
            ) -> HttpResponse | None:
                if is_api_path(request.path_info):
                    return None
                return super().process_view(request, callback, callback_args, callback_kwargs)

    SiteOnly.__name__ = SiteOnly.__qualname__ = f"SiteOnly{middleware_class.__name__}"
    return SiteOnly


SessionMiddleware = site_only(sessions.SessionMiddleware)
CsrfViewMiddleware = site_only(csrf.CsrfViewMiddleware)
AuthenticationMiddleware = site_only(auth.AuthenticationMiddleware)
MessageMiddleware = site_only(messages.MessageMiddleware)
