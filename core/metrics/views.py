"""GET /metrics: every process's samples in Prometheus text format, plus the booking queues.

Outside /api and outside DRF: Prometheus scrapes plain text, and the API's credentials do not
apply. When METRICS_TOKEN is set the scrape must send it as a bearer token. The queue gauges are
read from Redis at scrape time (queued mode only), so they are right whichever process asks.
"""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from core.api.exception_handler import error_response
from core.errors import EndpointNotFoundError, InvalidTokenError, MethodNotAllowedError
from core.metrics.registry import metrics_registry

logger = logging.getLogger(__name__)

# Collectors of gauges read at scrape time, registered by the apps that own what they read.
COLLECTORS: list[Collector] = []


def register_collector(collector: Collector) -> None:
    COLLECTORS.append(collector)


def _authorised(request: HttpRequest) -> bool:
    expected = settings.METRICS_TOKEN
    if not expected:
        return True
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), expected.encode())


def metrics_view(request: HttpRequest) -> HttpResponse | JsonResponse:
    """GET /metrics (public unless METRICS_TOKEN is set; 404 when METRICS_ENABLED is false)."""
    if not settings.METRICS_ENABLED:
        request.error_reason = EndpointNotFoundError.reason  # type: ignore[attr-defined]
        return error_response(EndpointNotFoundError())
    if request.method not in ("GET", "HEAD"):
        response = error_response(MethodNotAllowedError())
        response["Allow"] = "GET, HEAD"
        return response
    if not _authorised(request):
        request.error_reason = InvalidTokenError.reason  # type: ignore[attr-defined]
        return error_response(InvalidTokenError())
    registry = metrics_registry()
    for collector in COLLECTORS:
        registry.register(collector)
    # Prometheus asks for OpenMetrics in Accept; anything else gets the classic text format.
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encode(registry), content_type=content_type)
