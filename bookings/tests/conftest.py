"""Queued-mode fixtures: a real Redis and real Celery worker processes (SPEC §14 Queued).

Workers are subprocesses of `manage.py run_booking_workers`' own command line (one per partition,
concurrency 1, prefetch 1, solo pool), pointed at the test database through DATABASE_URL and at
a Redis database of their own (REDIS_URL with /5, or TEST_REDIS_URL), so tests never touch the
data of a server someone else uses. No eager mode, no in-memory broker.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
import redis
from django.conf import settings as django_settings
from django.core.servers.basehttp import ThreadedWSGIServer
from django.db import connection

from bookings.management.commands.run_booking_workers import worker_command
from core.idempotency.records import IdempotencyClaim, idempotency_claim, request_fingerprint
from slotbooking.celery import app as celery_app

QUEUE_REDIS_DB = 5
# The live server's listen backlog (10) would reset some of 30 simultaneous connections before
# the server even sees them; a real deployment runs gunicorn with its own backlog of 2048.
ThreadedWSGIServer.request_queue_size = 128
PARTITIONS = 2  # a 2-core machine: two worker processes are enough to show FCFS across them
WORKER_START_TIMEOUT = 60
# The workers' own settings. Short visibility timeout so a task whose worker was SIGKILLed is
# redelivered within the test; the start-up checks hold: 0.5 + 2 x 1 < 4 < 5.
WORKER_ENV = {
    "BOOKING_MODE": "queued",
    "BOOKING_QUEUE_PARTITIONS": str(PARTITIONS),
    "BOOKING_QUEUE_WAIT": "0.5",
    "BOOKING_LOCK_TIMEOUT": "1",
    "IDEMPOTENCY_CLAIM_TTL": "4",
    "CELERY_VISIBILITY_TIMEOUT": "5",
    "SLOTBOOKING_TEST_WORKER": "1",
    "LOG_FORMAT": "text",
}


def queue_redis_url() -> str:
    base = os.environ.get("TEST_REDIS_URL") or django_settings.REDIS_URL
    return urlunsplit(urlsplit(base)._replace(path=f"/{QUEUE_REDIS_DB}"))


def _database_url() -> str:
    """The test database, as the worker subprocesses must reach it."""
    db = connection.settings_dict
    user = quote(db.get("USER") or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture(scope="session")
def queue_redis() -> Iterator[redis.Redis]:
    """The test Redis database; the API side (this process) publishes and waits there."""
    url = queue_redis_url()
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis at {url} is unreachable ({exc}). Run `make redis`, or set REDIS_URL "
            "(or TEST_REDIS_URL) to a Redis the tests may use."
        )
    saved = {
        name: getattr(django_settings, name)
        for name in ("REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")
    }
    for name in saved:
        setattr(django_settings, name, url)
    celery_app.conf.update(broker_url=url, result_backend=url)
    yield client
    for name, value in saved.items():
        setattr(django_settings, name, value)
    client.close()


def purge_booking_queues(client: redis.Redis) -> None:
    """Drop waiting booking tasks of earlier tests: our Redis database only, never FLUSHALL."""
    for key in client.scan_iter("bookings.*"):
        client.delete(key)


class BookingWorkers:
    """One worker process per partition, which tests may stop, kill and restart."""

    def __init__(self, *, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    def name(self, partition: int) -> str:
        return f"bookings-{partition}@{socket.gethostname()}"

    def start(self, partition: int, **extra_env: str) -> None:
        self.stop(partition)
        log = (self.log_dir / f"worker-{partition}.log").open("ab")
        process = subprocess.Popen(  # noqa: S603
            worker_command(partition, loglevel="info"),
            env={**self.env, **extra_env},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=django_settings.BASE_DIR,
        )
        self.processes[partition] = process
        self._wait_ready(partition, process)

    def _wait_ready(self, partition: int, process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                log = (self.log_dir / f"worker-{partition}.log").read_text()[-3000:]
                pytest.fail(f"worker {partition} exited with {process.returncode}:\n{log}")
            if celery_app.control.ping(destination=[self.name(partition)], timeout=0.5):
                return
        pytest.fail(f"worker {partition} did not answer a ping in {WORKER_START_TIMEOUT} s")

    def running(self, partition: int) -> bool:
        process = self.processes.get(partition)
        return process is not None and process.poll() is None

    def ensure_all(self) -> None:
        for partition in range(PARTITIONS):
            if not self.running(partition):
                self.start(partition)

    def stop(self, partition: int) -> None:
        """Warm shutdown: a running task finishes first."""
        process = self.processes.pop(partition, None)
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)

    def kill(self, partition: int) -> None:
        """SIGKILL: the worker dies wherever it is, inside a transaction included."""
        process = self.processes.pop(partition)
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def stop_all(self) -> None:
        for partition in list(self.processes):
            self.stop(partition)


@pytest.fixture(scope="session")
def booking_workers(
    django_db_setup: None,
    django_db_blocker: Any,
    queue_redis: redis.Redis,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[BookingWorkers]:
    """Session-wide workers on the test database; torn down before the database is."""
    with django_db_blocker.unblock():
        database_url = _database_url()
    env = {**os.environ, **WORKER_ENV}
    env.pop("DATABASE_TEST_NAME", None)
    env.update(DATABASE_URL=database_url, REDIS_URL=queue_redis_url())
    purge_booking_queues(queue_redis)
    workers = BookingWorkers(env=env, log_dir=tmp_path_factory.mktemp("workers"))
    yield workers
    workers.stop_all()


@pytest.fixture
def queued_mode(
    settings: Any, booking_workers: BookingWorkers, queue_redis: redis.Redis
) -> BookingWorkers:
    """The API in queued mode, every partition's worker running, no task left from before."""
    settings.BOOKING_MODE = "queued"
    settings.BOOKING_QUEUE_PARTITIONS = PARTITIONS
    purge_booking_queues(queue_redis)
    booking_workers.ensure_all()
    return booking_workers


@pytest.fixture(params=["sync", "queued"])
def booking_mode(request: pytest.FixtureRequest, settings: Any) -> str:
    """Run a booking scenario in both modes, so they cannot drift apart (SPEC §7.1)."""
    if request.param == "queued":
        request.getfixturevalue("queued_mode")
    else:
        settings.BOOKING_MODE = "sync"
    return str(request.param)


def taken_over_claim(*, user: Any, slot: Any, settings: Any) -> tuple[Any, Any]:
    """(old, new): a claim of key "k" for booking `slot`, and the claim that took it over once
    the old one counted as abandoned (IDEMPOTENCY_CLAIM_TTL set to a millisecond)."""
    fingerprint = request_fingerprint(
        method="POST", route="/api/bookings", body={"slotId": str(slot.pk)}
    )
    old = idempotency_claim(user_id=user.pk, key="k", fingerprint=fingerprint)
    assert isinstance(old, IdempotencyClaim)
    settings.IDEMPOTENCY_CLAIM_TTL = 0.001  # the old claim counts as abandoned at once
    time.sleep(0.01)
    new = idempotency_claim(user_id=user.pk, key="k", fingerprint=fingerprint)
    assert isinstance(new, IdempotencyClaim)
    return old, new
