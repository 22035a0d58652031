"""booking_request(): POST /api/bookings in sync or queued mode.

The only code that reads BOOKING_MODE. Sync mode calls booking_create() in the request. Queued
mode runs the unlocked pre-read here, claims a key (the client's, or a server uuid), publishes the
task `bookings.create` to the slot's partition queue and waits for the worker, which calls the
same booking_create(), stores the outcome in the idempotency record and, once committed, pushes
it to a reply list of this attempt. The client gets the same bytes either way; the only
additions are QUEUE_UNAVAILABLE and QUEUE_TIMEOUT.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

import redis
from django.conf import settings

from bookings.errors import QueueTimeoutError, QueueUnavailableError
from bookings.renderers import BOOKING_CREATED
from bookings.services import booking_create, booking_precheck
from bookings.tasks import booking_create_task, booking_reply_key
from core.broker import bounded_publish_pool, reply_wait
from core.context import current_request_id
from core.errors import DomainError, IdempotencyKeyInProgressError, InternalError
from core.idempotency.records import (
    IdempotencyClaim,
    IdempotencyScope,
    Outcome,
    idempotency_release,
    idempotency_stored,
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
        _publish(payload, queue=booking_queue_name(booking_partition(slot_id)))
    except Exception:
        logger.warning("booking task could not be published", exc_info=True)
        # Withdraw the claim: if the message reached Redis anyway, its task finds no claim and
        # writes nothing. If a worker already completed it, that outcome is the answer.
        stored = idempotency_release(claim=claim)
        if stored is not None:
            return stored
        raise QueueUnavailableError() from None
    return booking_reply_wait(claim=claim)


def _publish(payload: dict[str, Any], *, queue: str) -> None:
    timeout = settings.BOOKING_QUEUE_PUBLISH_TIMEOUT
    pool = bounded_publish_pool(settings.CELERY_BROKER_URL, timeout=timeout, size=PUBLISH_POOL_SIZE)
    with pool.acquire(block=True, timeout=timeout) as connection:
        try:
            # ignore_result: the reply comes through booking_reply_key(), so Celery neither
            # subscribes to a result channel here nor stores a result in the worker. The
            # payload is a flat dict of short strings: plain repr() is what Celery's saferepr
            # would log for it, at a fraction of the cost.
            booking_create_task.apply_async(  # type: ignore[call-arg]
                args=(payload,),
                queue=queue,
                connection=connection,
                retry=False,
                ignore_result=True,
                argsrepr=repr((payload,)),
                kwargsrepr="{}",
            )
        except Exception:
            connection.collect()  # drop a broken socket; the pool reconnects next time
            raise


def booking_reply_wait(*, claim: IdempotencyClaim) -> Outcome:
    """The outcome of the published task of `claim`, within BOOKING_QUEUE_WAIT seconds.

    The worker's reply is what it stored in the record (or, for a 5xx, what made it release
    the claim), pushed only after its transaction committed, so it is sent as is. Without a
    reply in time, or when Redis fails during the wait, the record decides: a worker may have
    committed and lost its reply (killed, Redis hiccup), or committed just as the wait ended.
    Raises QueueTimeoutError while the outcome is still open, the 5xx DomainError the worker
    reported, IdempotencyKeyInProgressError when the claim was taken over while queued.
    """
    key = booking_reply_key(claim.attempt)
    try:
        reply = reply_wait(settings.CELERY_BROKER_URL, key, timeout=settings.BOOKING_QUEUE_WAIT)
    except Exception:
        logger.warning("waiting for the reply %s failed", key, exc_info=True)
        reply = None
    if reply is None:
        stored = idempotency_stored(claim=claim)
        if stored is not None:
            return stored
        # The task is not cancelled and its outcome will be stored under the key. The claim
        # stays; the client retries with it.
        raise QueueTimeoutError(key=claim.key)
    if "status" in reply:
        return Outcome(int(reply["status"]), str(reply["body"]))
    if "error" in reply:  # not stored (5xx): the worker released the claim
        raise DomainError.from_payload(reply["error"])
    if reply.get("lost"):  # the claim was taken over while queued
        raise IdempotencyKeyInProgressError()
    logger.error("booking reply %s is not understood: %r", key, reply)
    raise InternalError()


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
