"""Redis clients outside Celery (rate limits, queue gauges): short timeouts, one pool per URL."""

from __future__ import annotations

from functools import cache

import redis

# A limiter or a scrape must never hang on a broken Redis: fail within a fraction of a second.
TIMEOUT_SECONDS = 0.5


@cache
def redis_client(url: str) -> redis.Redis:
    """A client for `url` with bounded connect and read times; connects on first use."""
    return redis.Redis.from_url(
        url,
        socket_timeout=TIMEOUT_SECONDS,
        socket_connect_timeout=TIMEOUT_SECONDS,
        health_check_interval=30,
    )
