"""SPEC §12.10 in queued mode: queue gauges read from Redis, samples of Celery worker processes."""

from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path

import pytest
from prometheus_client import multiprocess

from bookings.tasks import booking_create_task
from bookings.tests.conftest import purge_booking_queues
from core.metrics import registry as metrics
from slotbooking.tests.concurrency import LocksHeld
from slotbooking.tests.metrics import scrape, value
from slots.locks import slot_lock
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db(transaction=True)  # workers see committed rows only


def test_queue_depth_and_oldest_age_are_reported_per_partition(
    api, settings, queue_redis, booking_workers
):
    # Partition 2 has no worker (the test workers consume 0 and 1): its tasks stay queued.
    settings.BOOKING_MODE = "queued"
    settings.BOOKING_QUEUE_PARTITIONS = 3
    purge_booking_queues(queue_redis)
    payload = {
        "recordId": str(uuid.uuid4()),
        "attempt": str(uuid.uuid4()),
        "userId": "",
        "slotId": "",
    }
    try:
        for _ in range(2):
            booking_create_task.apply_async(args=(payload,), queue="bookings.2")
        time.sleep(1.1)

        samples = scrape(api)
    finally:
        purge_booking_queues(queue_redis)

    assert value(samples, "slotbooking_queue_depth", partition="2") == 2
    assert 1.0 <= value(samples, "slotbooking_queue_oldest_age_seconds", partition="2") < 60
    for partition in ("0", "1", "2"):
        assert ("slotbooking_queue_depth", frozenset({("partition", partition)})) in samples
    empty = scrape(api)
    assert value(empty, "slotbooking_queue_depth", partition="2") == 0
    assert value(empty, "slotbooking_queue_oldest_age_seconds", partition="2") == 0


def test_no_queue_gauges_in_sync_mode(api, settings):
    settings.BOOKING_MODE = "sync"

    samples = scrape(api)

    assert not any(name.startswith("slotbooking_queue_") for name, _ in samples)


def _pids_with(name: str) -> dict[int, float]:
    found: dict[int, float] = {}
    for path in Path(metrics.metrics_dir()).glob("counter_*.db"):
        pid = int(re.search(r"_(\d+)\.db$", path.name).group(1))  # type: ignore[union-attr]
        for family in multiprocess.MultiProcessCollector.merge([str(path)], accumulate=True):
            for sample in family.samples:
                if sample.name == name:
                    found[pid] = found.get(pid, 0.0) + sample.value
    return found


def test_a_lock_timeout_in_a_celery_worker_shows_in_the_web_processes_metrics(
    api, api_as, guest, queued_mode
):
    slot = SlotFactory.create()
    before = scrape(api)
    in_workers_before = {
        pid: n
        for pid, n in _pids_with("slotbooking_lock_timeouts_total").items()
        if pid != os.getpid()
    }

    # The worker waits BOOKING_LOCK_TIMEOUT (1 s in the test workers) for the slot, then gives up.
    with LocksHeld(lambda: slot_lock(slot_id=slot.pk)):
        response = api_as(guest).post_json("/api/bookings", {"slotId": str(slot.pk)})
    created = api_as(guest).post_json("/api/bookings", {"slotId": str(slot.pk)})
    after = scrape(api)

    assert response.status_code == 503
    assert response.json()["error"]["reason"] == "LOCK_TIMEOUT"
    assert created.status_code == 201
    in_workers = {
        pid: n
        for pid, n in _pids_with("slotbooking_lock_timeouts_total").items()
        if pid != os.getpid()
    }
    assert sum(in_workers.values()) == sum(in_workers_before.values()) + 1  # counted in a worker
    assert (
        value(after, "slotbooking_lock_timeouts_total")
        == value(before, "slotbooking_lock_timeouts_total") + 1
    )
    outcome = "slotbooking_booking_requests_total"
    for reason in ("LOCK_TIMEOUT", "created"):
        assert (
            value(after, outcome, mode="queued", outcome=reason)
            == value(before, outcome, mode="queued", outcome=reason) + 1
        )
