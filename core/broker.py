"""Publishing to the Celery broker from a web request, within a bound."""

from __future__ import annotations

from functools import cache
from typing import Any

from celery import current_app


@cache
def bounded_publish_pool(url: str, *, timeout: float, size: int) -> Any:  # kombu ConnectionPool
    """A pool of broker connections of our own, for publishing from the web tier.

    The app's default pool retries and reconnects for a long time; a publish made while a client
    waits must instead fail within `timeout` seconds (no reconnect loop), so the caller can
    answer or fall back at once. Keyed by `url`, so it follows CELERY_BROKER_URL at call time.
    """
    connection = current_app.connection_for_write(
        url,
        connect_timeout=timeout,
        transport_options={
            "max_retries": 0,
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
        },
    )
    return connection.Pool(limit=size)  # type: ignore[attr-defined]
