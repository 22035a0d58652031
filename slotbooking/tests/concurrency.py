"""Real concurrency for tests: threads with their own database connections, released together."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection


@dataclass
class Attempt:
    result: Any = None
    error: BaseException | None = None
    started: float = 0.0
    finished: float = 0.0


def run_at_once(calls: Sequence[Callable[[], Any]], *, timeout: float = 60) -> list[Attempt]:
    """Start every call together (one Barrier); return one Attempt per call, in order."""
    barrier = threading.Barrier(len(calls))
    attempts = [Attempt() for _ in calls]

    def run(call: Callable[[], Any], attempt: Attempt) -> None:
        try:
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
