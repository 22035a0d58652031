"""Celery tasks of the bookings app: thin shells around the services.

A DomainError is an answer, not a task failure: it is stored in the idempotency record (business
4xx) or returned as data (5xx), never raised, so nothing is retried by Celery itself.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any
from uuid import UUID

import redis
from celery import Task, shared_task
from django.conf import settings
from django.db import transaction

from bookings.renderers import BOOKING_CREATED
from bookings.services import booking_create
from core.api.exception_handler import as_domain_error
from core.audit import EventSource
from core.broker import reply_send
from core.context import request_context
from core.idempotency.records import (
    ClaimLostError,
    IdempotencyClaim,
    Outcome,
    idempotency_prune,
    idempotency_settle,
)

logger = logging.getLogger(__name__)

# A reply nobody pops (its request stopped waiting) goes away on its own; the outcome itself
# lives in the idempotency record, so nothing is lost with it.
BOOKING_REPLY_TTL_SECONDS = 60


def booking_reply_key(attempt: UUID | str) -> str:
    """The reply list of one claim attempt: the API that published it waits on it."""
    return f"bookings:reply:{attempt}"


def enqueue_after_commit(task: Task, *args: Any, queue: str = "default") -> None:
    """Publish `task` once the current transaction commits, never if it rolls back: nobody
    hears of a change that did not happen. Outside a transaction: at once.
    robust=True: a broker hiccup must not turn a committed change into a 500."""
    transaction.on_commit(partial(task.apply_async, args=args, queue=queue), robust=True)


def _reply(outcome: Outcome) -> dict[str, Any]:
    return {"status": outcome.status, "body": outcome.body}


@shared_task(name="bookings.create", acks_late=True, reject_on_worker_lost=True)
def booking_create_task(payload: dict[str, Any]) -> dict[str, Any]:
    """Queued-mode booking_create for the claim {recordId, attempt} of `payload`.

    Safe to run twice (redelivery after a crash): the service locks the record first and writes
    only while it is IN_PROGRESS with this attempt; otherwise the stored outcome is returned.
    Returns {"status", "body"} (the stored answer), {"error": payload} (not stored: 5xx), or
    {"lost": true} (the claim was withdrawn or taken over, nothing to report), and pushes the
    same reply to booking_reply_key(attempt) for the API that waits. The API publishes with
    ignore_result, so Celery's result backend is not written for it.
    """
    # The API's request id, so that the audit row and the worker's log lines name the request.
    with request_context(payload.get("requestId")):
        reply = _booking_create(payload)
        # Only now: booking_create's transaction (or the settling one) has committed, so the
        # waiter never hears of an outcome the record does not hold yet.
        _send_reply(payload["attempt"], reply)
    return reply


def _send_reply(attempt: str, reply: dict[str, Any]) -> None:
    try:
        reply_send(
            settings.CELERY_BROKER_URL,
            booking_reply_key(attempt),
            reply,
            ttl=BOOKING_REPLY_TTL_SECONDS,
        )
    except redis.RedisError:
        # The outcome is stored; the API reads the record when its wait ends without a reply.
        logger.warning("could not send the reply of booking attempt %s", attempt, exc_info=True)


def _booking_create(payload: dict[str, Any]) -> dict[str, Any]:
    claim = IdempotencyClaim(
        record_id=UUID(payload["recordId"]),
        attempt=UUID(payload["attempt"]),
        key="",  # the service reads the key from the record it locks
        render=BOOKING_CREATED,
    )
    user_id = UUID(payload["userId"])
    try:
        booking_create(
            user_id=user_id,
            slot_id=UUID(payload["slotId"]),
            hold_id=UUID(payload["holdId"]) if payload.get("holdId") else None,
            source=EventSource.WORKER,
            precheck=False,  # the API ran it before publishing
            actor_id=user_id,
            idempotency=claim,
        )
    except ClaimLostError as lost:
        return _reply(lost.outcome) if lost.outcome is not None else {"lost": True}
    except Exception as exc:
        error = as_domain_error(exc)  # database errors become their 503; defects are logged
        stored = idempotency_settle(claim=claim, error=error)
        if stored is not None:
            return _reply(stored)
        return {"error": error.as_payload()}
    assert claim.stored is not None  # noqa: S101
    return _reply(claim.stored)


@shared_task(name="bookings.idempotency_prune")
def idempotency_prune_task() -> int:
    """Hourly (Celery beat): delete idempotency records past IDEMPOTENCY_KEY_TTL_HOURS."""
    deleted = idempotency_prune()
    logger.info("pruned %d idempotency records", deleted)
    return deleted


@shared_task(name="bookings.holds_expire")
def holds_expire_task() -> int:
    """Every HOLD_SWEEP_INTERVAL seconds (Celery beat): lapsed holds become EXPIRED and a lapsed
    waitlist offer passes to the next entry, even when nothing else touches the slot."""
    from bookings.holds import holds_expire_sweep

    return holds_expire_sweep()
