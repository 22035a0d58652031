"""Celery tasks of webhooks, on the default queue: deliver, sweep (every 30 s), prune (hourly).

Retries are never Celery countdowns: each delivery's schedule is its next_attempt_at, and the
sweep hands whatever is due to the worker. Tasks are safe to run twice (the claim decides).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from uuid import UUID

from celery import shared_task
from django.conf import settings

from core.broker import bounded_publish_pool
from core.metrics.registry import WEBHOOK_DELIVERIES
from webhooks.services import (
    AttemptOutcome,
    webhook_deliveries_due,
    webhook_delivery_attempt,
    webhook_prune,
)

logger = logging.getLogger(__name__)

# The outcomes of a request actually sent to a receiver (the others made none).
ATTEMPTED = frozenset(
    {
        AttemptOutcome.SUCCEEDED,
        AttemptOutcome.RETRY_SCHEDULED,
        AttemptOutcome.FAILED,
        AttemptOutcome.STALE,
    }
)

PUBLISH_TIMEOUT_SECONDS = 1.0
QUEUE = "default"
PUBLISH_POOL_SIZE = 8


def deliveries_enqueue(delivery_ids: Sequence[UUID | str]) -> None:
    """Hand deliveries to the worker (after commit). Best effort: on any failure they wait for
    the sweep, which runs every 30 seconds, so nothing is lost."""
    if not delivery_ids:
        return
    try:
        # Best effort after the commit: a broker that is down must not hold up the API answer.
        pool = bounded_publish_pool(
            settings.CELERY_BROKER_URL, timeout=PUBLISH_TIMEOUT_SECONDS, size=PUBLISH_POOL_SIZE
        )
        with pool.acquire(block=True, timeout=PUBLISH_TIMEOUT_SECONDS) as connection:
            try:
                for delivery_id in delivery_ids:
                    webhook_deliver_task.apply_async(  # type: ignore[call-arg]
                        args=(str(delivery_id),), queue=QUEUE, connection=connection, retry=False
                    )
            except Exception:
                connection.collect()  # drop a broken socket; the pool reconnects next time
                raise
    except Exception:
        logger.warning(
            "%d webhook deliveries not handed to the worker; the sweep will send them",
            len(delivery_ids),
            exc_info=True,
        )


@shared_task(name="webhooks.deliver", acks_late=True, reject_on_worker_lost=True)
def webhook_deliver_task(delivery_id: str) -> str:
    """One attempt of a delivery, then the next due delivery of the same endpoint, if any."""
    outcome = webhook_delivery_attempt(delivery_id=UUID(delivery_id))
    if outcome in ATTEMPTED:
        WEBHOOK_DELIVERIES.labels(outcome=outcome.value).inc()
    if outcome not in (AttemptOutcome.NOT_DUE, AttemptOutcome.ENDPOINT_BUSY):
        from webhooks.models import WebhookDelivery

        endpoint_id = (
            WebhookDelivery.objects.filter(pk=delivery_id)
            .values_list("endpoint_id", flat=True)
            .first()
        )
        if endpoint_id is not None:
            deliveries_enqueue(webhook_deliveries_due(endpoint_id=endpoint_id, limit=1))
    return outcome.value


@shared_task(name="webhooks.sweep")
def webhook_sweep_task() -> int:
    """Every 30 s (beat): hand every due delivery to the worker; catches anything missed."""
    due = webhook_deliveries_due()
    deliveries_enqueue(due)
    return len(due)


@shared_task(name="webhooks.prune")
def webhook_prune_task() -> int:
    """Hourly (beat): delete the delivery log older than 30 days."""
    deleted = webhook_prune()
    logger.info("pruned %d webhook log rows", deleted)
    return deleted
