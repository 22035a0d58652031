"""Size limits of a request's line and headers, answered in the JSON envelope.

Two layers keep every answer an envelope while the sizes stay bounded:

- The application refuses a request target longer than MAX_TARGET_LENGTH with 414, and more
  than MAX_HEADER_FIELDS header fields or one longer than MAX_HEADER_FIELD_SIZE with 431.
- gunicorn reads up to larger limits (slotbooking/gunicorn_conf.py), so any request within
  them reaches the application; beyond them its worker answers in the same envelope
  (slotbooking/gunicorn_worker.py) instead of its own HTML page.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from core.api.exception_handler import error_response
from core.errors import DomainError, HeadersTooLargeError, UriTooLongError

MAX_TARGET_LENGTH = 8000  # bytes of path and query string, as sent
MAX_HEADER_FIELDS = 100
MAX_HEADER_FIELD_SIZE = 8190  # bytes of "Name: value"

# What gunicorn itself reads; above the application's limits so that they answer first.
SERVER_REQUEST_LINE = 8190  # gunicorn's maximum: "GET " + a target of 8000 + " HTTP/1.1" fits
SERVER_HEADER_FIELDS = 2 * MAX_HEADER_FIELDS
SERVER_HEADER_FIELD_SIZE = 2 * MAX_HEADER_FIELD_SIZE


def _target_length(request: HttpRequest) -> int:
    raw = request.META.get("RAW_URI")  # the target exactly as sent (gunicorn)
    if raw is not None:
        return len(raw)
    return len(request.get_full_path())


def _header_fields(request: HttpRequest) -> list[int]:
    sizes = []
    for key, value in request.META.items():
        if key.startswith("HTTP_"):
            sizes.append(len(key) - 5 + 2 + len(str(value)))
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            sizes.append(len(key) + 2 + len(str(value)))
    return sizes


def limit_error(request: HttpRequest) -> DomainError | None:
    """The 414 or 431 error a request's size calls for, or None."""
    if _target_length(request) > MAX_TARGET_LENGTH:
        return UriTooLongError()
    sizes = _header_fields(request)
    if len(sizes) > MAX_HEADER_FIELDS or any(size > MAX_HEADER_FIELD_SIZE for size in sizes):
        return HeadersTooLargeError()
    return None


class RequestLimitsMiddleware:
    """Refuses oversized request lines and headers before anything else reads them."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        error = limit_error(request)
        if error is not None:
            request.error_reason = error.reason  # type: ignore[attr-defined]
            response = error_response(error)
            response["Content-Length"] = str(len(response.content))
            return response
        return self.get_response(request)
