"""Real concurrency for tests: threads with their own database connections, released together.

- `run_at_once` starts callables together (one Barrier) and records when each started and ended.
- `assert_overlapped` proves the attempts really raced: every one started before any ended.
- `LocksHeld` holds row locks in another thread's open transaction, so that attempts queue behind
  them deterministically, without sleeps: it lets go once a given number of sessions wait for a
  lock (or when told to), which makes fast operations overlap for certain.
- `http_call` sends one JSON request to the live server (`live_server` fixture) from any thread.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from django.db import connection, transaction

from slots.locks import slot_lock


@dataclass
class Attempt:
    result: Any = None
    error: BaseException | None = None
    started: float = 0.0
    finished: float = 0.0


def run_at_once(
    calls: Sequence[Callable[[], Any]], *, timeout: float = 60, connect: bool = True
) -> list[Attempt]:
    """Start every call together (one Barrier); return one Attempt per call, in order.

    `connect=False` for calls that never touch the database themselves (HTTP clients).
    """
    barrier = threading.Barrier(len(calls))
    attempts = [Attempt() for _ in calls]

    def run(call: Callable[[], Any], attempt: Attempt) -> None:
        try:
            if connect:
                connection.ensure_connection()  # connect before the barrier: race the work only
            barrier.wait(timeout=30)
            attempt.started = time.monotonic()
            attempt.result = call()
        except BaseException as exc:  # the test inspects every outcome
            attempt.error = exc
        finally:
            attempt.finished = time.monotonic()
            connection.close()  # this thread's own connection: close it now, not at GC time

    threads = [
        threading.Thread(target=run, args=pair) for pair in zip(calls, attempts, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "an attempt hung"
    return attempts


def assert_overlapped(attempts: Sequence[Attempt]) -> None:
    """Every attempt started before any finished: they really raced."""
    assert max(a.started for a in attempts) < min(a.finished for a in attempts), (
        "the attempts did not overlap; the test proves nothing"
    )


def succeeded(attempts: Sequence[Attempt]) -> list[Any]:
    """The results of the attempts that raised nothing."""
    return [a.result for a in attempts if a.error is None]


def failed(attempts: Sequence[Attempt]) -> list[BaseException]:
    """The exceptions of the attempts that failed."""
    return [a.error for a in attempts if a.error is not None]


class Latch:
    """A countdown: `wait()` returns once `count_down()` was called `count` times."""

    def __init__(self, count: int) -> None:
        self._count = count
        self._condition = threading.Condition()

    def count_down(self) -> None:
        with self._condition:
            self._count -= 1
            self._condition.notify_all()

    def wait(self, timeout: float = 30) -> None:
        with self._condition:
            assert self._condition.wait_for(lambda: self._count <= 0, timeout), "latch timed out"


def lock_waiters() -> int:
    """How many other sessions of this database are waiting for a lock right now."""
    with connection.cursor() as cursor:
        # pg_stat_activity is a snapshot taken once per transaction: refresh it.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            """SELECT count(*) FROM pg_stat_activity
               WHERE datname = current_database() AND wait_event_type = 'Lock'
                 AND pid <> pg_backend_pid()"""
        )
        (count,) = cursor.fetchone()
    return int(count)


class LocksHeld:
    """Hold the row locks that `take` takes, in a transaction of its own thread.

    Use as a context manager. The locks are taken on entry. They are released (the transaction
    commits, or rolls back with `rollback=True`) as soon as `release_when_waiting` sessions wait
    for a lock, when `release()` is called, or when the block exits, whichever comes first.
    `take` runs inside atomic(), so it may call the lock helpers (user_lock, slot_lock,
    booking_lock) directly, or write rows whose uncommitted index entries make others wait.
    """

    def __init__(
        self,
        take: Callable[[], Any],
        *,
        release_when_waiting: int | None = None,
        rollback: bool = False,
        timeout: float = 30,
    ) -> None:
        self.take = take
        self.release_when_waiting = release_when_waiting
        self.rollback = rollback
        self.timeout = timeout
        self.waiters_seen = 0
        self.error: BaseException | None = None
        self._held = threading.Event()
        self._release = threading.Event()
        self._thread = threading.Thread(target=self._hold)

    def __enter__(self) -> LocksHeld:
        self._thread.start()
        assert self._held.wait(self.timeout), "the locks could not be taken"
        if self.error is not None:
            raise self.error
        return self

    def release(self) -> None:
        self._release.set()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._release.set()
        self._thread.join(self.timeout)
        assert not self._thread.is_alive(), "the lock holder hung"
        if exc is None and self.error is not None:
            raise self.error

    def _hold(self) -> None:
        try:
            with transaction.atomic():
                self.take()
                self._held.set()
                deadline = time.monotonic() + self.timeout
                while not self._release.wait(0.005):
                    if self.release_when_waiting is not None:
                        self.waiters_seen = lock_waiters()
                        if self.waiters_seen >= self.release_when_waiting:
                            break
                    assert time.monotonic() < deadline, (
                        f"waited for {self.release_when_waiting} lock waiters, "
                        f"saw {self.waiters_seen}"
                    )
                transaction.set_rollback(self.rollback)
        except BaseException as exc:
            self.error = exc
        finally:
            self._held.set()
            connection.close()


@dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def reason(self) -> str | None:
        """The error reason of an error envelope, None for a success."""
        if isinstance(self.body, dict) and self.body.get("success") is False:
            return str(self.body["error"]["reason"])
        return None


def http_call(
    method: str, url: str, *, user_id: object, body: Any = None, timeout: float = 30
) -> HttpAnswer:
    """One JSON request as a client would send it, authenticated by the x-user-id header
    (anonymous when `user_id` is empty)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (http only)
    if user_id:
        request.add_header("x-user-id", str(user_id))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status, headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:  # 4xx and 5xx still carry the envelope
        status, headers, raw = error.code, dict(error.headers), error.read()
    return HttpAnswer(status=status, headers=headers, body=json.loads(raw) if raw else None)


def answers(attempts: Sequence[Attempt]) -> list[HttpAnswer]:
    """Every client got an HTTP answer (no socket error, no timeout)."""
    assert [a.error for a in attempts if a.error is not None] == []
    return [a.result for a in attempts]


def outcomes(attempts: Sequence[Attempt]) -> Counter[tuple[int, str | None]]:
    """(status, reason) of every answer, counted."""
    return Counter((answer.status, answer.reason) for answer in answers(attempts))


def slot_locks(*slots: Any) -> Callable[[], None]:
    """Lock several slots the way the code base does: ascending id order."""

    def take() -> None:
        for slot in sorted(slots, key=lambda s: s.pk):
            slot_lock(slot_id=slot.pk)

    return take
