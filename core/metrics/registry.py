"""Prometheus metrics shared by every process: gunicorn workers, Celery workers, commands.

prometheus_client runs in multiprocess mode: each process writes its samples to memory-mapped
files named after its pid in one directory, and GET /metrics (any web worker) sums them, so a
counter incremented in two workers shows the sum. The directory is PROMETHEUS_MULTIPROC_DIR, by
default `$SLOTBOOKING_DATA_DIR/prometheus`; it must be set before prometheus_client is imported,
which is why every metric of the project is declared here and only here.

Apps import the metric objects below and call `.inc()` / `.observe()`; nothing else is needed.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

ENV = "PROMETHEUS_MULTIPROC_DIR"


def metrics_dir() -> Path:
    """Where this process and its siblings keep their samples."""
    configured = os.environ.get(ENV, "").strip()
    if configured:
        return Path(configured)
    data_dir = os.environ.get("SLOTBOOKING_DATA_DIR") or Path(__file__).resolve().parents[2] / "var"
    return Path(data_dir).resolve() / "prometheus"


# Before the import: prometheus_client picks its multiprocess storage when it is imported.
_DIR = metrics_dir()
_DIR.mkdir(parents=True, exist_ok=True)
os.environ[ENV] = str(_DIR)

from celery.signals import before_task_publish  # noqa: E402
from django.conf import settings  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from prometheus_client import (  # noqa: E402
    CollectorRegistry,
    Counter,
    Histogram,
    multiprocess,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
PUBLISHED_AT_HEADER = "slotbooking_published_at"

# The catalogue. Names are part of the operator's contract (dashboards, alerts): never rename.
BOOKING_REQUESTS = Counter(
    "slotbooking_booking_requests",
    "POST /api/bookings answers, by booking mode and outcome (created, or the error reason).",
    ["mode", "outcome"],
)
BOOKING_DURATION = Histogram(
    "slotbooking_booking_duration_seconds",
    "Time to answer POST /api/bookings, by booking mode (queued: including the worker).",
    ["mode"],
    buckets=LATENCY_BUCKETS,
)
LOCK_TIMEOUTS = Counter(
    "slotbooking_lock_timeouts",
    "Write transactions given up after waiting BOOKING_LOCK_TIMEOUT for a row lock.",
)
WEBHOOK_DELIVERIES = Counter(
    "slotbooking_webhook_deliveries",
    "Webhook delivery attempts, by outcome (succeeded, retry_scheduled, failed, stale).",
    ["outcome"],
)
RATE_LIMITER_ERRORS = Counter(
    "slotbooking_rate_limiter_errors",
    "Booking requests let through uncounted because the rate limiter could not reach Redis.",
)
HTTP_REQUESTS = Counter(
    "slotbooking_http_requests",
    "HTTP requests answered, by route name, method and status.",
    ["view", "method", "status"],
)
HTTP_DURATION = Histogram(
    "slotbooking_http_request_duration_seconds",
    "Time to answer an HTTP request, by route name and method.",
    ["view", "method"],
    buckets=LATENCY_BUCKETS,
)

HTTP_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
_PID_FILE = re.compile(r"_(\d+)\.db$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def metrics_dir_clean() -> int:
    """At server start: delete the samples of processes that no longer run; return how many.

    Counters restart from zero with the server, as Prometheus expects of a restarted target.
    Files of live processes stay: web workers and Celery workers may start in either order
    and share the directory.
    """
    removed = 0
    for path in _DIR.glob("*.db"):
        match = _PID_FILE.search(path.name)
        if match and not _pid_alive(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def metrics_process_dead(pid: int) -> None:
    """gunicorn's child_exit hook: a worker is gone, drop its live gauges."""
    multiprocess.mark_process_dead(pid, str(_DIR))


def metrics_registry() -> CollectorRegistry:
    """A registry that reads every process's samples (build one per scrape)."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(_DIR))
    return registry


@before_task_publish.connect
def _stamp_published_at(headers: dict[str, object] | None = None, **kwargs: object) -> None:
    # The age of the oldest waiting task is read from the queue at scrape time: stamp it here.
    if headers is not None:
        headers.setdefault(PUBLISHED_AT_HEADER, time.time())


def _view_label(request: HttpRequest) -> str:
    match = request.resolver_match
    if match is None or not match.url_name:  # the catch-all 404 route has no name
        return "unmatched"
    return match.view_name


class MetricsMiddleware:
    """Counts every request and its latency by route name (bounded labels: routes, not paths)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not settings.METRICS_ENABLED:
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        view = _view_label(request)
        method = request.method if request.method in HTTP_METHODS else "other"
        HTTP_DURATION.labels(view, method).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(view, method, str(response.status_code)).inc()
        return response
