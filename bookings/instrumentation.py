"""POST /api/bookings around its handler: the per-user rate limit and the booking metrics."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.response import Response

from bookings.dispatch import booking_queue_enabled
from core.metrics.registry import BOOKING_DURATION, BOOKING_REQUESTS
from core.ratelimit import RateLimitMixin

CREATE = "create"


class BookingCreateLimits(RateLimitMixin):
    """BOOKING_RATE_LIMIT requests per BOOKING_RATE_LIMIT_WINDOW seconds per user, and one
    sample of slotbooking_booking_requests_total / _duration_seconds per answer."""

    rate_limited_actions = (CREATE,)
    rate_limit_scope = "bookings"
    booking_started: float | None = None

    def rate_limit(self) -> tuple[int, int]:
        return settings.BOOKING_RATE_LIMIT, settings.BOOKING_RATE_LIMIT_WINDOW

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if getattr(self, "action", None) == CREATE:
            self.booking_started = time.perf_counter()
        super().initial(request, *args, **kwargs)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.booking_started is not None and settings.METRICS_ENABLED:
            mode = "queued" if booking_queue_enabled() else "sync"
            if response.status_code == 201:
                outcome = "created"
            else:  # every error names its reason for the request log, stored replays included
                reason = getattr(request._request, "error_reason", None)
                outcome = reason or f"HTTP_{response.status_code}"
            BOOKING_REQUESTS.labels(mode, outcome).inc()
            BOOKING_DURATION.labels(mode).observe(time.perf_counter() - self.booking_started)
        return response
