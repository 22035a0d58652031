"""Queued mode only (SPEC §7, §14 Queued): first come first served across partitions, and every
failure of §7.4, with a real Redis and real worker processes (see conftest.py)."""

from __future__ import annotations

import socket
import time
from uuid import UUID

import pytest
from django.db import connection, transaction

from accounts.tests.factories import UserFactory
from bookings.dispatch import booking_partition, booking_queue_name
from bookings.models import Booking, BookingEvent
from bookings.tasks import booking_create_task, enqueue_after_commit, idempotency_prune_task
from bookings.tests.conftest import PARTITIONS, WORKER_ENV, queue_redis_url, taken_over_claim
from bookings.tests.factories import post_booking
from bookings.tests.invariants import assert_booking_invariants
from core.idempotency.models import IdempotencyRecord
from core.idempotency.records import (
    IdempotencyClaim,
    idempotency_claim,
    idempotency_release,
    request_fingerprint,
)
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db(transaction=True)  # the workers see committed rows only

VISIBILITY_TIMEOUT = float(WORKER_ENV["CELERY_VISIBILITY_TIMEOUT"])
RETRY_DEADLINE = 30  # seconds to wait for an outcome that a worker still has to produce


def partition_of(slot) -> int:
    return booking_partition(slot.pk)


def slot_on_partition(partition: int, **kwargs):
    """A slot whose id lands on `partition` (ids are random uuids)."""
    while True:
        slot = SlotFactory.create(**kwargs)
        if partition_of(slot) == partition:
            return slot
        slot.delete()


def assert_queue_timeout(response) -> str:
    """503 QUEUE_TIMEOUT with the key in the header and the details; returns the key."""
    assert response.status_code == 503, response.content
    key = response.headers["Idempotency-Key"]
    assert response.headers["Retry-After"] == "1"
    assert response.json() == {
        "success": False,
        "error": {
            "code": "SERVICE_UNAVAILABLE",
            "reason": "QUEUE_TIMEOUT",
            "message": "The booking is still being processed; "
            "retry with the same Idempotency-Key to get the result",
            "details": {"idempotencyKey": key},
        },
    }
    return key


def retry_until_decided(api, user, slot, key):
    """Retry with the key until the outcome exists (409 IN_PROGRESS means: not yet)."""
    deadline = time.monotonic() + RETRY_DEADLINE
    while True:
        response = post_booking(api, user, slot, HTTP_IDEMPOTENCY_KEY=key)
        in_progress = (
            response.status_code == 409
            and response.json()["error"]["reason"] == "IDEMPOTENCY_KEY_IN_PROGRESS"
        )
        if not in_progress or time.monotonic() > deadline:
            return response
        assert response.headers["Retry-After"] == "1"
        time.sleep(0.2)


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/5"  # nothing listens there any more


# First come, first served -------------------------------------------------------------------------
def test_requests_accepted_in_order_a_b_c_for_one_place_are_decided_in_that_order(
    api, queued_mode, settings
):
    settings.BOOKING_QUEUE_WAIT = 0.5
    slot = SlotFactory.create()
    partition = partition_of(slot)
    other_partition = (partition + 1) % PARTITIONS
    elsewhere = slot_on_partition(other_partition)
    a, b, c, d = UserFactory.create_batch(4)
    # The partition's worker is away: A, B and C are accepted (queued) in this order, each
    # answered QUEUE_TIMEOUT, so the order of acceptance is known exactly.
    queued_mode.stop(partition)
    keys = {user: assert_queue_timeout(post_booking(api, user, slot)) for user in (a, b, c)}
    # Meanwhile the other partition's worker serves its own slots: partitions run in parallel.
    assert post_booking(api, d, elsewhere).status_code == 201

    queued_mode.start(partition)
    answers = {user: retry_until_decided(api, user, slot, key) for user, key in keys.items()}

    assert answers[a].status_code == 201, answers[a].content
    assert answers[a].headers["Idempotent-Replayed"] == "true"
    for later in (b, c):
        assert answers[later].status_code == 409
        assert answers[later].json()["error"]["reason"] == "SLOT_NOT_AVAILABLE"
    assert Booking.objects.get(slot=slot).user_id == a.pk
    assert_booking_invariants()


# Failures of SPEC §7.4 ----------------------------------------------------------------------------
def test_an_unreachable_broker_answers_503_queue_unavailable_quickly_and_writes_nothing(
    api, guest, queued_mode, settings
):
    settings.CELERY_BROKER_URL = closed_port_url()
    slot = SlotFactory.create()

    started = time.monotonic()
    response = post_booking(api, guest, slot, HTTP_IDEMPOTENCY_KEY="pay-1")
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"] == {
        "code": "SERVICE_UNAVAILABLE",
        "reason": "QUEUE_UNAVAILABLE",
        "message": "The booking queue is unavailable, please try again later",
    }
    assert elapsed < settings.BOOKING_QUEUE_PUBLISH_TIMEOUT + 1
    assert not Booking.objects.exists()
    assert not IdempotencyRecord.objects.exists()  # the claim was withdrawn
    # Once the broker is back, the same key runs again (nothing was stored).
    settings.CELERY_BROKER_URL = queue_redis_url()
    retry = post_booking(api, guest, slot, HTTP_IDEMPOTENCY_KEY="pay-1")
    assert retry.status_code == 201, retry.content
    assert "Idempotent-Replayed" not in retry.headers


def test_a_withdrawn_claim_whose_task_reached_redis_anyway_books_nothing(guest, queued_mode):
    """QUEUE_UNAVAILABLE must never be followed by a booking: the task finds no claim."""
    slot = SlotFactory.create()
    fingerprint = request_fingerprint(
        method="POST", route="/api/bookings", body={"slotId": str(slot.pk)}
    )
    claim = idempotency_claim(user_id=guest.pk, key="lost", fingerprint=fingerprint)
    assert isinstance(claim, IdempotencyClaim)
    assert idempotency_release(claim=claim) is None  # what the API does on a failed publish
    payload = {
        "recordId": str(claim.record_id),
        "attempt": str(claim.attempt),
        "userId": str(guest.pk),
        "slotId": str(slot.pk),
        "holdId": None,
    }

    result = booking_create_task.apply_async(
        args=(payload,), queue=booking_queue_name(partition_of(slot))
    )

    assert result.get(timeout=RETRY_DEADLINE) == {"lost": True}
    assert not Booking.objects.exists()


def test_a_task_of_a_taken_over_claim_writes_nothing(guest, queued_mode, settings):
    slot = SlotFactory.create()
    old, new = taken_over_claim(user=guest, slot=slot, settings=settings)
    assert new.attempt != old.attempt
    payload = {
        "recordId": str(old.record_id),
        "attempt": str(old.attempt),
        "userId": str(guest.pk),
        "slotId": str(slot.pk),
        "holdId": None,
    }

    result = booking_create_task.apply_async(
        args=(payload,), queue=booking_queue_name(partition_of(slot))
    )

    assert result.get(timeout=RETRY_DEADLINE) == {"lost": True}
    assert not Booking.objects.exists()
    assert IdempotencyRecord.objects.get(key="k").attempt == new.attempt


def test_no_worker_answers_503_queue_timeout_and_the_retry_gets_the_real_outcome(
    api, guest, queued_mode, settings
):
    settings.BOOKING_QUEUE_WAIT = 0.5
    slot = SlotFactory.create()
    partition = partition_of(slot)
    queued_mode.stop(partition)

    started = time.monotonic()
    key = assert_queue_timeout(post_booking(api, guest, slot))  # no client key: the server made one
    assert time.monotonic() - started < 3
    UUID(key)
    pending = post_booking(api, guest, slot, HTTP_IDEMPOTENCY_KEY=key)
    assert pending.status_code == 409
    assert pending.json()["error"]["reason"] == "IDEMPOTENCY_KEY_IN_PROGRESS"
    assert not Booking.objects.exists()  # the outcome is still open, and says so

    queued_mode.start(partition)
    answer = retry_until_decided(api, guest, slot, key)

    assert answer.status_code == 201, answer.content
    assert answer.headers["Idempotent-Replayed"] == "true"
    assert answer.json()["data"]["id"] == str(Booking.objects.get().pk)
    assert Booking.objects.count() == 1


def test_a_client_key_is_kept_through_a_queue_timeout(api, guest, queued_mode, settings):
    settings.BOOKING_QUEUE_WAIT = 0.5
    slot = SlotFactory.create()
    queued_mode.stop(partition_of(slot))

    key = assert_queue_timeout(post_booking(api, guest, slot, HTTP_IDEMPOTENCY_KEY="client-key"))
    queued_mode.start(partition_of(slot))

    assert key == "client-key"
    assert retry_until_decided(api, guest, slot, key).status_code == 201
    assert Booking.objects.count() == 1


def _worker_inside_its_transaction() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            # The test pause before the write runs inside booking_book(), as pg_sleep.
            " AND (state = 'idle in transaction' OR wait_event = 'PgSleep')"
        )
        return bool(cursor.fetchone()[0])


def test_a_worker_killed_mid_task_books_exactly_once_after_redelivery(
    api, guest, queued_mode, settings
):
    settings.BOOKING_QUEUE_WAIT = 0.5
    slot = SlotFactory.create()
    partition = partition_of(slot)
    # This worker pauses after its locks and checks, before the insert: the kill lands inside
    # the transaction.
    queued_mode.start(partition, BOOKING_TEST_DELAY_BEFORE_WRITE="5")

    delivered = time.monotonic()
    key = assert_queue_timeout(post_booking(api, guest, slot, HTTP_IDEMPOTENCY_KEY="kill-me"))
    deadline = time.monotonic() + 10
    while not _worker_inside_its_transaction() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _worker_inside_its_transaction(), "the task never reached its transaction"
    queued_mode.kill(partition)
    assert not Booking.objects.exists()  # it died before committing

    # Redis hands an unacknowledged message out again once it is older than the visibility
    # timeout; a starting worker restores such messages at once (kombu checks again only
    # every ~100 s after that), so start it once the timeout has passed.
    time.sleep(max(0.0, delivered + VISIBILITY_TIMEOUT + 0.5 - time.monotonic()))
    queued_mode.start(partition)  # no delay: the redelivered task runs normally
    answer = retry_until_decided(api, guest, slot, key)

    assert answer.status_code == 201, answer.content
    assert Booking.objects.count() == 1
    assert BookingEvent.objects.filter(action="CREATED").count() == 1
    body = IdempotencyRecord.objects.get(key=key).response_body
    assert body is not None
    assert body.encode() == answer.content
    assert_booking_invariants()


# Side effects after commit, health ----------------------------------------------------------------
def test_a_task_enqueued_inside_a_transaction_is_sent_only_after_commit(queued_mode, queue_redis):
    queue = "bookings.after-commit-test"  # no worker consumes it: the message stays to be seen

    with transaction.atomic():
        enqueue_after_commit(idempotency_prune_task, queue=queue)
        assert queue_redis.llen(queue) == 0  # not while the transaction is open
    assert queue_redis.llen(queue) == 1

    def rolled_back() -> None:
        with transaction.atomic():
            enqueue_after_commit(idempotency_prune_task, queue=queue)
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        rolled_back()
    assert queue_redis.llen(queue) == 1  # a rolled-back transaction sends nothing
    queue_redis.delete(queue)


def test_health_pings_redis_in_queued_mode(api, queued_mode, settings):
    healthy = api.get("/api/health")
    settings.CELERY_BROKER_URL = closed_port_url()
    unhealthy = api.get("/api/health")

    assert healthy.status_code == 200
    assert healthy.json()["data"]["checks"] == {"database": "ok", "redis": "ok"}
    assert unhealthy.status_code == 503
    assert unhealthy.headers["Retry-After"] == "5"
    assert unhealthy.json()["error"]["details"] == {"checks": {"database": "ok", "redis": "error"}}


def test_health_does_not_touch_redis_in_sync_mode(api, settings):
    settings.BOOKING_MODE = "sync"
    settings.CELERY_BROKER_URL = closed_port_url()

    response = api.get("/api/health")

    assert response.status_code == 200
    assert response.json()["data"]["checks"] == {"database": "ok"}
