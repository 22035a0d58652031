"""GET /metrics: every process's samples in Prometheus text format, plus the booking queues.

Outside /api and outside DRF: Prometheus scrapes plain text, and the API's credentials do not
apply. When METRICS_TOKEN is set the scrape must send it as a bearer token. The queue gauges are
read from Redis at scrape time (queued mode only), so they are right whichever process asks.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Iterator

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from accounts.errors import InvalidTokenError
from bookings.dispatch import booking_queue_enabled, booking_queue_name
from slotbooking.errors import EndpointNotFoundError, MethodNotAllowedError
from slotbooking.exception_handler import error_response
from slotbooking.metrics import PUBLISHED_AT_HEADER, metrics_registry
from slotbooking.redis_clients import redis_client

logger = logging.getLogger(__name__)

# kombu keeps a queue's messages of priority 3, 6 and 9 in lists of their own beside the queue.
KOMBU_PRIORITY_SEPARATOR = "\x06\x16"
KOMBU_PRIORITY_STEPS = (3, 6, 9)


def _queue_keys(queue: str) -> list[str]:
    return [queue, *(f"{queue}{KOMBU_PRIORITY_SEPARATOR}{step}" for step in KOMBU_PRIORITY_STEPS)]


def _published_at(raw: bytes | None) -> float | None:
    if raw is None:
        return None
    try:
        stamp = json.loads(raw)["headers"][PUBLISHED_AT_HEADER]
    except (ValueError, KeyError, TypeError):
        return None
    return float(stamp) if isinstance(stamp, int | float) else None


class BookingQueueCollector(Collector):
    """slotbooking_queue_depth and slotbooking_queue_oldest_age_seconds per partition."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if not booking_queue_enabled():
            return
        depth = GaugeMetricFamily(
            "slotbooking_queue_depth",
            "Booking tasks waiting in a partition queue.",
            labels=["partition"],
        )
        age = GaugeMetricFamily(
            "slotbooking_queue_oldest_age_seconds",
            "Seconds the oldest waiting booking task of a partition has waited (0 when empty).",
            labels=["partition"],
        )
        client = redis_client(settings.CELERY_BROKER_URL)
        now = time.time()
        try:
            for partition in range(settings.BOOKING_QUEUE_PARTITIONS):
                keys = _queue_keys(booking_queue_name(partition))
                pipe = client.pipeline(transaction=False)
                for key in keys:
                    pipe.llen(key)
                    pipe.lindex(key, -1)  # kombu pushes on the left: the oldest is on the right
                replies = pipe.execute()
                waiting = sum(int(n) for n in replies[0::2])
                stamps = [s for s in map(_published_at, replies[1::2]) if s is not None]
                depth.add_metric([str(partition)], waiting)
                age.add_metric([str(partition)], max(0.0, now - min(stamps)) if stamps else 0.0)
        except (redis.RedisError, OSError):
            logger.warning("metrics: the booking queues could not be read", exc_info=True)
            return
        yield depth
        yield age


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
    registry.register(BookingQueueCollector())
    # Prometheus asks for OpenMetrics in Accept; anything else gets the classic text format.
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encode(registry), content_type=content_type)
