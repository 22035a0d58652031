"""The Celery broker from a web request, within a bound: publishing, and the replies of a worker.

A reply is one JSON message pushed to a list that exists for one request only (`reply_send`) and
popped by the request that waits for it (`reply_wait`). A list, not publish/subscribe: a reply
pushed before the waiter got to BLPOP is still there when it does, so nothing has to be
subscribed before the task is published, and nothing is left to unsubscribe or forget after.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import redis
from celery import current_app

# A bound on connecting and on each command other than the blocking wait itself: the reply
# channel answers within a round trip or is treated as down.
REPLY_SOCKET_TIMEOUT = 2.0


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


@cache
def _reply_client(url: str, *, socket_timeout: float) -> redis.Redis:
    # One pool per process and URL: a request borrows a connection and gives it back, it never
    # opens its own. redis-py's pool notices a fork and starts afresh in the child.
    return redis.Redis.from_url(
        url, socket_timeout=socket_timeout, socket_connect_timeout=REPLY_SOCKET_TIMEOUT
    )


def reply_send(url: str, key: str, message: dict[str, Any], *, ttl: int) -> None:
    """Push `message` to the reply list `key`, which expires after `ttl` seconds whether or not
    anyone pops it (a waiter that gave up). One round trip; raises redis.RedisError."""
    client = _reply_client(url, socket_timeout=REPLY_SOCKET_TIMEOUT)
    with client.pipeline(transaction=True) as pipe:  # MULTI: the list never exists without a TTL
        pipe.lpush(key, json.dumps(message, separators=(",", ":")))
        pipe.expire(key, ttl)
        pipe.execute()


def reply_wait(url: str, key: str, *, timeout: float) -> dict[str, Any] | None:
    """Pop the reply of `key`, waiting up to `timeout` seconds; None when none came in time.

    Raises redis.RedisError when the broker cannot be reached or fails during the wait.
    """
    # The socket must outlast the server-side wait, or a slow reply would look like a dead link.
    client = _reply_client(url, socket_timeout=timeout + REPLY_SOCKET_TIMEOUT)
    popped = client.blpop([key], timeout=timeout)
    if popped is None:
        return None
    message = json.loads(popped[1])
    if not isinstance(message, dict):
        raise ValueError(f"reply {key} is not an object: {message!r}")
    return message
