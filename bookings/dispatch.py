"""booking_request(): POST /api/bookings in sync or queued mode.

The only code that reads BOOKING_MODE. Sync mode calls booking_create() in the request. Queued
mode runs the unlocked pre-read here, claims a key (the client's, or a server uuid), publishes the
task `bookings.create` to the slot's partition queue and waits for the worker, which calls the
same booking_create() and stores the outcome in the idempotency record. The client gets the same
bytes either way; the only additions are QUEUE_UNAVAILABLE and QUEUE_TIMEOUT.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any
from uuid import UUID

import redis
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult
from django.conf import settings

from bookings.errors import QueueTimeoutError, QueueUnavailableError
from bookings.renderers import BOOKING_CREATED
from bookings.services import booking_create, booking_precheck
from bookings.tasks import booking_create_task
from core.broker import bounded_publish_pool
from core.context import current_request_id
from core.errors import DomainError, IdempotencyKeyInProgressError, InternalError
from core.idempotency.records import (
    IdempotencyClaim,
    IdempotencyScope,
    Outcome,
    idempotency_release,
    recorded,
)

logger = logging.getLogger(__name__)

PUBLISH_POOL_SIZE = 32
PROBE_TIMEOUT_SECONDS = 2


def booking_queue_enabled() -> bool:
    """Whether POST /api/bookings goes through the queue (health check, worker command)."""
    return settings.BOOKING_MODE == "queued"


def booking_partition(slot_id: UUID) -> int:
    """The FCFS partition of a slot: stable across processes (never Python's salted hash())."""
    return int(slot_id.hex[:8], 16) % settings.BOOKING_QUEUE_PARTITIONS


def booking_queue_name(partition: int) -> str:
    return f"bookings.{partition}"


def booking_request(
    *,
    scope: IdempotencyScope,
    slot_id: UUID,
    hold_id: UUID | None = None,
) -> Outcome:
    """Book `slot_id` for the scope's user; return the answer to send.

    Raises what booking_create raises, plus (queued) QueueUnavailableError, QueueTimeoutError.
    """
    if not booking_queue_enabled():
        return recorded(
            scope,
            render=BOOKING_CREATED,
            call=lambda claim: booking_create(
                user_id=scope.user_id,
                slot_id=slot_id,
                hold_id=hold_id,
                actor_id=scope.user_id,
                idempotency=claim,
            ),
        )
    # Fast answers (404, 409) without the queue; the worker re-checks everything under locks.
    # A booking with a hold skips them: its place is the hold's, checked under the locks.
    if hold_id is None:
        booking_precheck(slot_id=slot_id)
    claim = scope.claim or scope.claim_server_key()
    payload = {
        "recordId": str(claim.record_id),
        "attempt": str(claim.attempt),
        "userId": str(scope.user_id),
        "slotId": str(slot_id),
        "holdId": str(hold_id) if hold_id is not None else None,
        "requestId": current_request_id(),  # the worker records it on the audit row
    }
    try:
        result = _publish(payload, queue=booking_queue_name(booking_partition(slot_id)))
    except Exception:
        logger.warning("booking task could not be published", exc_info=True)
        # Withdraw the claim: if the message reached Redis anyway, its task finds no claim and
        # writes nothing. If a worker already completed it, that outcome is the answer.
        stored = idempotency_release(claim=claim)
        if stored is not None:
            return stored
        raise QueueUnavailableError() from None
    return _wait(result, claim=claim)


def _publish(payload: dict[str, Any], *, queue: str) -> AsyncResult:
    timeout = settings.BOOKING_QUEUE_PUBLISH_TIMEOUT
    pool = bounded_publish_pool(settings.CELERY_BROKER_URL, timeout=timeout, size=PUBLISH_POOL_SIZE)
    with pool.acquire(block=True, timeout=timeout) as connection:
        try:
            return booking_create_task.apply_async(  # type: ignore[call-arg]
                args=(payload,), queue=queue, connection=connection, retry=False
            )
        except Exception:
            connection.collect()  # drop a broken socket; the pool reconnects next time
            raise


def _wait(result: AsyncResult, *, claim: IdempotencyClaim) -> Outcome:
    try:
        reply = result.get(timeout=settings.BOOKING_QUEUE_WAIT, propagate=False)
    except Exception as exc:
        # No answer in time (or the result channel failed): the task is not cancelled and its
        # outcome will be stored under the key. The claim stays; the client retries with it.
        if not isinstance(exc, CeleryTimeoutError):
            logger.warning("waiting for booking task %s failed", result.id, exc_info=True)
        _stop_waiting(result)
        raise QueueTimeoutError(key=claim.key) from None
    result.forget()
    if not isinstance(reply, dict):
        logger.error("booking task %s failed: %r", result.id, reply)
        raise InternalError()
    if "status" in reply:
        return Outcome(int(reply["status"]), str(reply["body"]))
    if "error" in reply:  # not stored (5xx): the worker released the claim
        raise DomainError.from_payload(reply["error"])
    raise IdempotencyKeyInProgressError()  # the claim was taken over while queued


def _stop_waiting(result: AsyncResult) -> None:
    with contextlib.suppress(Exception):  # best effort: only an unsubscribe
        result.backend.remove_pending_result(result)  # type: ignore[attr-defined]


def queued_broker_probe() -> str | None:
    """The broker's health in queued mode; None in sync mode, which does not use it."""
    return broker_probe() if booking_queue_enabled() else None


def broker_probe() -> str:
    """PING the broker within 2 s, for /api/health in queued mode."""
    client = redis.Redis.from_url(
        settings.CELERY_BROKER_URL,
        socket_timeout=PROBE_TIMEOUT_SECONDS,
        socket_connect_timeout=PROBE_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    except (redis.RedisError, OSError):
        return "error"
    finally:
        client.close()
    return "ok"
