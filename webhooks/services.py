"""Use cases of webhooks: registering and removing endpoints, and delivering the outbox.

A delivery attempt is three steps, and no lock is held while the receiver is called:
1. claim (short transaction): lock the delivery, then its endpoint; take a lease by moving
   next_attempt_at (and the endpoint's busy_until) past the longest the attempt may take, and log
   the attempt as interrupted until it has an answer;
2. send, outside any transaction (sending.send);
3. record (short transaction): store the answer and schedule what comes next.
A worker that dies between 1 and 3 leaves its lease behind; once it has passed, the sweep claims
the delivery again, so every event is delivered at least once, always with the same event id.
"""

from __future__ import annotations

import enum
import logging
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q

from accounts.locks import user_lock
from core.db.instants import now_ms
from core.db.transactions import in_service_transaction, set_lock_timeout
from core.errors import NotStaffError, ValidationFailedError
from webhooks.addresses import AddressRefused, resolve_target
from webhooks.errors import WebhookLimitReachedError, WebhookNotFoundError
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.sending import AttemptResult, send

logger = logging.getLogger(__name__)

MAX_ENDPOINTS_PER_USER = 10
SECRET_PREFIX = "whsec_"  # noqa: S105  # the public prefix of every secret
# How long past WEBHOOK_TIMEOUT a claimed attempt stays leased: the time to record its answer.
LEASE_MARGIN = timedelta(seconds=30)
INTERRUPTED = "Interrupted: no answer was recorded (the worker stopped during the attempt)"
ENDPOINT_INACTIVE = "The endpoint is inactive"
GONE = 410
KEPT_FOR = timedelta(days=30)
SWEEP_BATCH = 500


# Endpoints ---------------------------------------------------------------------------------------
def webhook_endpoint_create(
    *,
    owner_id: UUID,
    url: str,
    events: Sequence[str],
    all_events: bool = False,
    description: str = "",
    staff: bool = False,
) -> WebhookEndpoint:
    """Register an endpoint for the owner, with a new signing secret (returned on the row).

    `all_events` (every event of every user) needs `staff`, the caller's staff privileges. The
    URL's host is resolved now and must not point at a private, loopback or link-local address
    unless WEBHOOK_ALLOW_PRIVATE_ADDRESSES. Locks the owner's user row, so the limit of 10 holds
    under concurrent registrations.
    Raises NotStaffError, ValidationFailedError, WebhookLimitReachedError, UserNotFoundError.
    """
    if all_events and not staff:
        raise NotStaffError()
    try:
        resolve_target(url)  # DNS before the transaction: no lock is held while we wait
    except AddressRefused as exc:
        raise ValidationFailedError(details=[{"path": "url", "message": str(exc)}]) from None

    def work() -> WebhookEndpoint:
        user_lock(user_id=owner_id)
        if WebhookEndpoint.objects.filter(owner_id=owner_id).count() >= MAX_ENDPOINTS_PER_USER:
            raise WebhookLimitReachedError(n=MAX_ENDPOINTS_PER_USER)
        return WebhookEndpoint.objects.create(
            owner_id=owner_id,
            url=url,
            events=list(dict.fromkeys(events)),
            all_events=all_events,
            description=description,
            secret=SECRET_PREFIX + secrets.token_urlsafe(32),
        )

    return in_service_transaction(work)


def webhook_endpoint_delete(*, owner_id: UUID, endpoint_id: UUID) -> None:
    """Remove the owner's endpoint with its deliveries; pending ones are never sent.
    Raises WebhookNotFoundError (also for someone else's endpoint)."""

    def work() -> None:
        deleted, _ = WebhookEndpoint.objects.filter(pk=endpoint_id, owner_id=owner_id).delete()
        if not deleted:
            raise WebhookNotFoundError()

    in_service_transaction(work)


# Delivery ----------------------------------------------------------------------------------------
def retry_delay(attempt: int, *, rng: random.Random | None = None) -> timedelta:
    """The wait before attempt number `attempt` (2 or more): 2^(n-2) minutes, at most 6 hours,
    then ±10 % jitter so that receivers coming back are not hit by every retry at once."""
    minutes = min(2 ** max(attempt - 2, 0), 360)
    jitter = (rng or random).uniform(0.9, 1.1)  # spreading load, not a secret
    return timedelta(minutes=minutes * jitter)


class AttemptOutcome(enum.Enum):
    NOT_DUE = "not_due"  # not pending, not due yet, or another worker has it
    ENDPOINT_BUSY = "endpoint_busy"  # another delivery to the same endpoint is in flight
    SUCCEEDED = "succeeded"
    RETRY_SCHEDULED = "retry_scheduled"
    FAILED = "failed"  # attempts exhausted, endpoint gone (410) or inactive
    STALE = "stale"  # the lease had passed and the delivery was claimed again meanwhile


@dataclass(frozen=True)
class _Claim:
    delivery_id: UUID
    endpoint_id: UUID
    attempt_id: UUID
    number: int
    lease: datetime
    url: str
    secret: str
    event_id: UUID
    event_type: str
    body: str


def _claim(delivery_id: UUID) -> _Claim | AttemptOutcome:
    with transaction.atomic(durable=True):
        set_lock_timeout()
        now = now_ms()
        # SKIP LOCKED: a delivery (or endpoint) another worker is claiming right now is theirs.
        delivery = (
            WebhookDelivery.objects.select_for_update(no_key=True, skip_locked=True, of=("self",))
            .select_related("event")
            .filter(pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if delivery is None:
            return AttemptOutcome.NOT_DUE
        # Lock order everywhere in this app: delivery, then its endpoint.
        endpoint = (
            WebhookEndpoint.objects.select_for_update(no_key=True, skip_locked=True)
            .filter(pk=delivery.endpoint_id)
            .first()
        )
        if endpoint is None:
            return AttemptOutcome.ENDPOINT_BUSY
        if not endpoint.is_active:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                status=DeliveryStatus.FAILED, next_attempt_at=None, updated_at=now
            )
            return AttemptOutcome.FAILED
        if endpoint.busy_until is not None and endpoint.busy_until > now:
            return AttemptOutcome.ENDPOINT_BUSY
        lease = now + timedelta(seconds=settings.WEBHOOK_TIMEOUT) + LEASE_MARGIN
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(busy_until=lease)
        number = delivery.attempt_count + 1
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            attempt_count=number, next_attempt_at=lease, updated_at=now
        )
        attempt = WebhookAttempt.objects.create(delivery=delivery, number=number, error=INTERRUPTED)
        return _Claim(
            delivery_id=delivery.pk,
            endpoint_id=endpoint.pk,
            attempt_id=attempt.pk,
            number=number,
            lease=lease,
            url=endpoint.url,
            secret=endpoint.secret,
            event_id=delivery.event_id,
            event_type=delivery.event.type,
            body=delivery.event.body,
        )


def _record(claim: _Claim, result: AttemptResult) -> AttemptOutcome:
    with transaction.atomic(durable=True):
        set_lock_timeout()
        now = now_ms()
        WebhookAttempt.objects.filter(pk=claim.attempt_id).update(
            status_code=result.status_code,
            error=result.error[:500],
            duration_ms=result.duration_ms,
            response_body=result.response_body,
            updated_at=now,
        )
        delivery = (
            WebhookDelivery.objects.select_for_update(no_key=True)
            .filter(pk=claim.delivery_id)
            .first()
        )
        # Free the endpoint only if this attempt still holds it.
        WebhookEndpoint.objects.filter(pk=claim.endpoint_id, busy_until=claim.lease).update(
            busy_until=None
        )
        if delivery is None:
            return AttemptOutcome.STALE  # the endpoint was deleted meanwhile
        if delivery.status != DeliveryStatus.PENDING or delivery.attempt_count != claim.number:
            return AttemptOutcome.STALE
        if result.succeeded:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                status=DeliveryStatus.SUCCEEDED, next_attempt_at=None, delivered_at=now,
                updated_at=now,
            )  # fmt: skip
            return AttemptOutcome.SUCCEEDED
        if result.status_code == GONE:
            # 410 Gone: the receiver asks us to stop. Everything still pending for it fails too.
            WebhookEndpoint.objects.filter(pk=claim.endpoint_id).update(
                is_active=False, deactivated_at=now, updated_at=now
            )
            WebhookDelivery.objects.filter(
                endpoint_id=claim.endpoint_id, status=DeliveryStatus.PENDING
            ).update(status=DeliveryStatus.FAILED, next_attempt_at=None, updated_at=now)
            return AttemptOutcome.FAILED
        in_series = delivery.attempt_count - delivery.series_start
        if in_series >= settings.WEBHOOK_MAX_ATTEMPTS:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                status=DeliveryStatus.FAILED, next_attempt_at=None, updated_at=now
            )
            return AttemptOutcome.FAILED
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=now + retry_delay(in_series + 1), updated_at=now
        )
        return AttemptOutcome.RETRY_SCHEDULED


def webhook_delivery_attempt(*, delivery_id: UUID) -> AttemptOutcome:
    """Make the next attempt of a delivery if it is due and its endpoint is free.

    Call it outside any transaction (it opens two short ones and calls the receiver in between,
    holding no lock). Safe to call twice or concurrently for one delivery: only one claim wins.
    """
    claimed = _claim(delivery_id)
    if isinstance(claimed, AttemptOutcome):
        return claimed
    result = send(
        url=claimed.url,
        secret=claimed.secret,
        event_id=str(claimed.event_id),
        event_type=claimed.event_type,
        body=claimed.body.encode(),
    )
    outcome = _record(claimed, result)
    logger.info(
        "webhook delivery %s attempt %d: %s (%s)",
        claimed.delivery_id,
        claimed.number,
        outcome.value,
        result.status_code if result.status_code is not None else result.error,
    )
    return outcome


def webhook_deliveries_due(
    *, endpoint_id: UUID | None = None, limit: int = SWEEP_BATCH
) -> list[UUID]:
    """Deliveries whose attempt is due, the earliest of each endpoint that is not busy.

    Read-only. One per endpoint: an endpoint takes one attempt at a time, and the end of each
    attempt asks for the next one.
    """
    now = now_ms()
    due = (
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .filter(Q(endpoint__busy_until__isnull=True) | Q(endpoint__busy_until__lte=now))
        .filter(endpoint__is_active=True)
        .order_by("endpoint_id", "next_attempt_at", "id")
        .distinct("endpoint_id")
    )
    if endpoint_id is not None:
        due = due.filter(endpoint_id=endpoint_id)
    return list(due.values_list("id", flat=True)[:limit])


def webhook_redeliver(*, delivery_ids: Sequence[UUID]) -> list[UUID]:
    """Schedule deliveries again, now (the admin's "Redeliver"), whatever their state.

    Their endpoints must be active; a new series of retries starts, so a failed delivery gets
    the full WEBHOOK_MAX_ATTEMPTS again. Returns the deliveries scheduled; the worker is told
    after commit.
    """

    def work() -> list[UUID]:
        now = now_ms()
        ids = list(
            WebhookDelivery.objects.select_for_update(no_key=True, of=("self",))
            .filter(pk__in=delivery_ids, endpoint__is_active=True)
            .order_by("pk")
            .values_list("id", flat=True)
        )
        WebhookDelivery.objects.filter(pk__in=ids).update(
            status=DeliveryStatus.PENDING,
            next_attempt_at=now,
            series_start=F("attempt_count"),
            delivered_at=None,
            updated_at=now,
        )
        if ids:
            from webhooks.tasks import deliveries_enqueue

            transaction.on_commit(lambda: deliveries_enqueue(ids), robust=True)
        return ids

    return in_service_transaction(work)


def webhook_prune(*, now: datetime | None = None) -> int:
    """Delete the delivery log older than 30 days: attempts, finished deliveries, and events
    nothing is still waiting to deliver. Returns the number of rows deleted."""
    cutoff = (now or now_ms()) - KEPT_FOR
    from webhooks.models import WebhookEvent

    with transaction.atomic(durable=True):
        attempts, _ = WebhookAttempt.objects.filter(created_at__lt=cutoff).delete()
        deliveries, _ = (
            WebhookDelivery.objects.filter(created_at__lt=cutoff)
            .exclude(status=DeliveryStatus.PENDING)
            .delete()
        )
        events, _ = (
            WebhookEvent.objects.filter(created_at__lt=cutoff)
            .exclude(deliveries__status=DeliveryStatus.PENDING)
            .delete()
        )
    return attempts + deliveries + events
