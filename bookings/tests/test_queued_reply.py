"""The reply channel of queued mode: the worker pushes the outcome it committed to a list of the
claim's attempt, the API pops it. Late, lost and failed replies end in the idempotency record,
never in a wrong answer. Real Redis, real worker processes (see conftest.py)."""

from __future__ import annotations

import json
import time

import pytest

from accounts.tests.factories import HostFactory, UserFactory
from bookings.dispatch import booking_reply_wait
from bookings.errors import QueueTimeoutError
from bookings.models import Booking
from bookings.services import booking_create
from bookings.tasks import BOOKING_REPLY_TTL_SECONDS, booking_create_task, booking_reply_key
from bookings.tests.conftest import PARTITIONS, taken_over_claim
from bookings.tests.factories import post_booking
from bookings.tests.invariants import assert_booking_invariants
from bookings.tests.test_queued import (
    RETRY_DEADLINE,
    assert_queue_timeout,
    closed_port_url,
    partition_of,
    retry_until_decided,
    slot_on_partition,
)
from core.errors import IdempotencyKeyInProgressError
from core.idempotency.models import IdempotencyRecord, IdempotencyState
from core.idempotency.records import (
    IdempotencyClaim,
    Outcome,
    idempotency_claim,
    request_fingerprint,
)
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db(transaction=True)  # the workers see committed rows only


def claim_of(record: IdempotencyRecord) -> IdempotencyClaim:
    """The claim the API held for `record` while it waited."""
    return IdempotencyClaim(record_id=record.pk, attempt=record.attempt, key=record.key)


def stored_outcome(record: IdempotencyRecord) -> Outcome:
    record.refresh_from_db()
    assert record.state == IdempotencyState.COMPLETED
    assert record.response_status is not None
    assert record.response_body is not None
    return Outcome(record.response_status, record.response_body)


def wait_until_completed(record: IdempotencyRecord) -> None:
    deadline = time.monotonic() + RETRY_DEADLINE
    while time.monotonic() < deadline:
        record.refresh_from_db()
        if record.state == IdempotencyState.COMPLETED:
            return
        time.sleep(0.1)
    pytest.fail(f"record {record.pk} was not completed within {RETRY_DEADLINE} s")


def wait_for_reply_list(queue_redis, key: str) -> None:
    """The worker pushes its reply right after its commit; give it that moment."""
    deadline = time.monotonic() + RETRY_DEADLINE
    while not queue_redis.exists(key) and time.monotonic() < deadline:
        time.sleep(0.05)


def redis_connections_accepted(queue_redis) -> int:
    """Every connection the Redis server ever accepted: a new socket counts, a reused one not."""
    return int(queue_redis.info("stats")["total_connections_received"])


def normalised(body: bytes) -> dict:
    """A 201 body without what differs between two bookings (ids, people, times)."""
    data = json.loads(body)["data"]
    return {
        "keys": list(data),
        "status": data["status"],
        "slotKeys": list(data["slot"]),
        "slotStatus": data["slot"]["status"],
    }


# What the client gets ----------------------------------------------------------------------------
def test_the_answer_is_the_bytes_stored_in_the_record_and_the_reply_is_consumed(
    api, guest, queued_mode, queue_redis
):
    slot = SlotFactory.create()

    response = post_booking(api, guest, slot, HTTP_IDEMPOTENCY_KEY="reply-1")

    assert response.status_code == 201, response.content
    assert "Idempotent-Replayed" not in response.headers
    record = IdempotencyRecord.objects.get(key="reply-1")
    assert stored_outcome(record) == Outcome(201, response.content.decode())
    assert response.json()["data"]["id"] == str(Booking.objects.get(slot=slot).pk)
    assert not queue_redis.exists(booking_reply_key(record.attempt))  # popped, nothing left


def test_every_outcome_a_worker_decides_is_the_one_sync_mode_sends(api, queued_mode, settings):
    """201, and the 4xx decided under the locks, over both modes with the same set-up: the
    error bodies are byte for byte the same, the 201 bodies the same but for ids and times."""

    def scenario() -> list:
        host = HostFactory.create()
        guest, busy, regular = UserFactory.create_batch(3)
        for other in SlotFactory.create_batch(5):
            booking_create(user_id=busy.pk, slot_id=other.pk)
        first, second = SlotFactory.create_batch(2, host=HostFactory.create())
        booking_create(user_id=regular.pk, slot_id=first.pk)
        responses = [
            post_booking(api, guest, SlotFactory.create()),  # 201
            post_booking(api, host, SlotFactory.create(host=host)),  # 400 BOOKING_OWN_SLOT
            post_booking(api, busy, SlotFactory.create()),  # 409 MAX_ACTIVE_BOOKINGS
            post_booking(api, regular, second),  # 409 HOST_ALREADY_BOOKED
        ]
        return [(response.status_code, response.content) for response in responses]

    settings.BOOKING_MODE = "sync"
    sync = scenario()
    settings.BOOKING_MODE = "queued"  # what the queued_mode fixture had set, workers running
    queued = scenario()

    assert [status for status, _ in queued] == [201, 400, 409, 409]
    assert [status for status, _ in sync] == [status for status, _ in queued]
    assert normalised(queued[0][1]) == normalised(sync[0][1])
    assert [body for _, body in queued[1:]] == [body for _, body in sync[1:]]
    # The queued answers are exactly what the worker stored (server keys: one record a user).
    records = IdempotencyRecord.objects.order_by("created_at")
    assert [(r.response_status, str(r.response_body).encode()) for r in records] == queued
    assert_booking_invariants()


# A reply that comes late or not at all -----------------------------------------------------------
def test_a_reply_pushed_after_the_wait_ended_expires_and_the_retry_replays_the_record(
    api, guest, queued_mode, queue_redis, settings
):
    settings.BOOKING_QUEUE_WAIT = 0.5
    slot = SlotFactory.create()
    partition = partition_of(slot)
    queued_mode.stop(partition)  # no worker: the wait ends without a reply

    key = assert_queue_timeout(post_booking(api, guest, slot, HTTP_IDEMPOTENCY_KEY="late"))
    record = IdempotencyRecord.objects.get(key=key)
    assert record.state == IdempotencyState.IN_PROGRESS  # the claim is kept
    queued_mode.start(partition)
    wait_until_completed(record)
    reply_key = booking_reply_key(record.attempt)
    wait_for_reply_list(queue_redis, reply_key)

    # Nobody pops the late reply: it goes away on its own, and it says what the record says.
    assert 0 < queue_redis.ttl(reply_key) <= BOOKING_REPLY_TTL_SECONDS
    (late_reply,) = queue_redis.lrange(reply_key, 0, -1)
    outcome = stored_outcome(record)
    assert json.loads(late_reply) == {"status": outcome.status, "body": outcome.body}
    answer = retry_until_decided(api, guest, slot, key)
    assert answer.status_code == 201, answer.content
    assert answer.headers["Idempotent-Replayed"] == "true"
    assert answer.content == outcome.body.encode()
    assert Booking.objects.count() == 1


def test_a_wait_whose_reply_was_lost_answers_from_the_record_and_never_before_it_is_decided(
    api, guest, queued_mode, queue_redis, settings
):
    settings.BOOKING_QUEUE_WAIT = 0.5
    slot = SlotFactory.create()
    partition = partition_of(slot)
    queued_mode.stop(partition)
    key = assert_queue_timeout(post_booking(api, guest, slot, HTTP_IDEMPOTENCY_KEY="lost"))
    record = IdempotencyRecord.objects.get(key=key)

    # Still queued: waiting again gives no reply, and the record is open, so: QUEUE_TIMEOUT.
    with pytest.raises(QueueTimeoutError):
        booking_reply_wait(claim=claim_of(record))
    queued_mode.start(partition)
    wait_until_completed(record)
    reply_key = booking_reply_key(record.attempt)
    wait_for_reply_list(queue_redis, reply_key)
    queue_redis.delete(reply_key)  # the reply is lost (as when a worker dies right after commit)

    outcome = booking_reply_wait(claim=claim_of(record))

    assert outcome == stored_outcome(record)
    assert outcome.status == 201
    assert json.loads(outcome.body)["data"]["id"] == str(Booking.objects.get().pk)


def test_redis_failing_during_the_wait_answers_from_the_record_or_queue_timeout(
    guest, queued_mode, queue_redis, settings
):
    """Never a failure while the outcome is open: the record is read instead of the reply."""
    settings.BOOKING_QUEUE_WAIT = 0.5
    decided_slot, open_slot = SlotFactory.create_batch(2)
    fingerprint = request_fingerprint(
        method="POST", route="/api/bookings", body={"slotId": str(decided_slot.pk)}
    )
    decided = idempotency_claim(user_id=guest.pk, key="decided", fingerprint=fingerprint)
    still_open = idempotency_claim(user_id=guest.pk, key="open", fingerprint=fingerprint)
    assert isinstance(decided, IdempotencyClaim)
    assert isinstance(still_open, IdempotencyClaim)
    result = booking_create_task.apply_async(
        args=(
            {
                "recordId": str(decided.record_id),
                "attempt": str(decided.attempt),
                "userId": str(guest.pk),
                "slotId": str(decided_slot.pk),
                "holdId": None,
            },
        ),
        queue=f"bookings.{partition_of(decided_slot)}",
    )
    assert result.get(timeout=RETRY_DEADLINE)["status"] == 201

    settings.CELERY_BROKER_URL = closed_port_url()  # the reply channel is down
    outcome = booking_reply_wait(claim=decided)
    with pytest.raises(QueueTimeoutError) as timeout:
        booking_reply_wait(claim=still_open)

    assert outcome == stored_outcome(IdempotencyRecord.objects.get(key="decided"))
    assert timeout.value.as_payload()["details"] == {"idempotencyKey": "open"}
    assert IdempotencyRecord.objects.get(key="open").state == IdempotencyState.IN_PROGRESS
    assert not Booking.objects.filter(slot=open_slot).exists()


def test_the_reply_of_a_taken_over_claim_answers_409_in_progress_and_writes_nothing(
    guest, queued_mode, settings
):
    slot = SlotFactory.create()
    old, _new = taken_over_claim(user=guest, slot=slot, settings=settings)
    booking_create_task.apply_async(
        args=(
            {
                "recordId": str(old.record_id),
                "attempt": str(old.attempt),
                "userId": str(guest.pk),
                "slotId": str(slot.pk),
                "holdId": None,
            },
        ),
        queue=f"bookings.{partition_of(slot)}",
        ignore_result=True,  # as the API publishes: the reply list is the only answer
    )

    with pytest.raises(IdempotencyKeyInProgressError):
        booking_reply_wait(claim=old)

    assert not Booking.objects.exists()
    assert IdempotencyRecord.objects.get(key="k").state == IdempotencyState.IN_PROGRESS


# Connections -------------------------------------------------------------------------------------
def test_bookings_borrow_pooled_redis_connections_and_open_none_of_their_own(
    api, queued_mode, queue_redis
):
    # Warm every pool first: one booking per partition, so each worker has sent a reply.
    for partition in range(PARTITIONS):
        warm = post_booking(api, UserFactory.create(), slot_on_partition(partition))
        assert warm.status_code == 201, warm.content
    guests = UserFactory.create_batch(10)
    slots = SlotFactory.create_batch(10)
    before = redis_connections_accepted(queue_redis)

    pairs = zip(guests, slots, strict=True)
    statuses = [post_booking(api, guest, slot).status_code for guest, slot in pairs]

    assert statuses == [201] * 10
    # The rate limit, the publish, the wait (API) and the reply (workers): no new socket.
    assert redis_connections_accepted(queue_redis) == before
