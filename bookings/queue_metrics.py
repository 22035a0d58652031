"""Gauges of the booking queues, read from Redis when /metrics is scraped."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

import redis
from django.conf import settings
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bookings.dispatch import booking_queue_enabled, booking_queue_name
from core.metrics.registry import PUBLISHED_AT_HEADER
from core.redis_clients import redis_client

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
