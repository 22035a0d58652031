"""Per-user request limits in fixed windows, counted in Redis so every process shares them.

One round trip per request, one short Lua script that Redis runs atomically: `SET key 0 EX
window NX` opens the window at the caller's first request, `INCR` counts this one (keeping the
expiry) and `PTTL` tells when the window ends; a key without expiry (written by hand) gets this
window. Redis's own clock ends the window, so web processes on several hosts agree. (A script
sent by its SHA is a single command each way, cheaper on both sides than MULTI/EXEC's five.)

If Redis cannot be reached the limiter fails open: the request goes on uncounted, a warning is
logged and slotbooking_rate_limiter_errors_total is incremented. An outage of the limiter's
store must not take bookings down with it.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar, cast

import redis
from django.conf import settings
from redis.commands.core import Script
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import RateLimitedError
from core.metrics.registry import RATE_LIMITER_ERRORS
from core.redis_clients import redis_client

logger = logging.getLogger(__name__)

KEY_PREFIX = "slotbooking:ratelimit"


_HIT = """
redis.call('SET', KEYS[1], 0, 'EX', ARGV[1], 'NX')
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[1])
    ttl = tonumber(ARGV[1]) * 1000
end
return {count, ttl}
"""


@cache
def _hit_script(url: str) -> Script:
    """The counting script, sent by its SHA (loaded again if Redis lost it, after a restart)."""
    return cast(Script, redis_client(url).register_script(_HIT))  # a sync client's script


@dataclass(frozen=True)
class RateLimitState:
    """What the X-RateLimit-* headers say about one request."""

    limit: int
    remaining: int  # never below 0
    reset: int  # Unix seconds when the window ends
    retry_after: int  # whole seconds until then, at least 1
    exceeded: bool

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


def rate_limit_hit(*, scope: str, subject: str, limit: int, window: int) -> RateLimitState:
    """Count one request of `subject` against `limit` per `window` seconds in `scope`.

    Fails open: when Redis fails, the request is not counted and the state shows the whole
    limit left in a window starting now.
    """
    key = f"{KEY_PREFIX}:{scope}:{subject}"
    now = time.time()
    try:
        count, ttl_ms = _hit_script(settings.REDIS_URL)(keys=[key], args=[window])
    except (redis.RedisError, OSError):
        RATE_LIMITER_ERRORS.inc()
        logger.warning("rate limiter unavailable; %s request let through uncounted", scope)
        return RateLimitState(
            limit=limit,
            remaining=limit,
            reset=math.ceil(now + window),
            retry_after=window,
            exceeded=False,
        )
    seconds_left = ttl_ms / 1000
    return RateLimitState(
        limit=limit,
        remaining=max(0, limit - int(count)),
        reset=math.ceil(now + seconds_left),
        retry_after=max(1, math.ceil(seconds_left)),
        exceeded=int(count) > limit,
    )


class RateLimitMixin:
    """For an ApiViewSet: limit the actions in `rate_limited_actions` per authenticated user.

    The check runs right after authentication (a 401 is never counted) and before the handler,
    so the body is not parsed yet: invalid and replayed requests count, and a refused request
    runs nothing and touches no idempotency record. Every answer of a limited action after
    authentication carries the X-RateLimit-* headers.
    """

    rate_limited_actions: ClassVar[tuple[str, ...]] = ()
    rate_limit_scope: ClassVar[str] = ""
    rate_limit_state: RateLimitState | None = None

    def rate_limit(self) -> tuple[int, int]:
        """(requests per window, window in seconds); 0 requests turns the limit off."""
        raise NotImplementedError

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]  # authentication first
        if getattr(self, "action", None) not in self.rate_limited_actions:
            return
        limit, window = self.rate_limit()
        if limit <= 0:
            return
        self.rate_limit_state = state = rate_limit_hit(
            scope=self.rate_limit_scope, subject=str(request.user.pk), limit=limit, window=window
        )
        if state.exceeded:
            raise RateLimitedError(n=state.retry_after)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        if self.rate_limit_state is not None:
            for name, value in self.rate_limit_state.headers().items():
                response[name] = value
        return response
