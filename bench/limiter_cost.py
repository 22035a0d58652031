"""The per-request cost of the booking rate limiter and of the metrics, measured in-process.

    python -m bench.limiter_cost [N]     # prints one JSON object; bench/run.py calls it

Over HTTP the difference between a server with both on and one with both off is a fraction of
a millisecond, easily lost in the noise of a shared machine. This times exactly the work each
booking request adds: one `rate_limit_hit` (one MULTI/EXEC round trip to the real Redis of
REDIS_URL) and the samples one booking request records (request count and latency, booking
outcome and duration). Samples go to a temporary directory, never the server's.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
import uuid


def _micros(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "mean_us": round(statistics.fmean(ordered) * 1e6, 1),
        "p50_us": round(ordered[len(ordered) // 2] * 1e6, 1),
        "p99_us": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e6, 1),
    }


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="slotbooking-bench-metrics-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "slotbooking.settings")
    import django

    django.setup()
    from django.conf import settings

    from core.metrics.registry import (
        BOOKING_DURATION,
        BOOKING_REQUESTS,
        HTTP_DURATION,
        HTTP_REQUESTS,
        RATE_LIMITER_ERRORS,
    )
    from core.ratelimit import rate_limit_hit

    subject = f"bench-{uuid.uuid4()}"
    errors_before = RATE_LIMITER_ERRORS._value.get()
    limiter = []
    for _ in range(count):
        started = time.perf_counter()
        rate_limit_hit(scope="bench", subject=subject, limit=10**9, window=60)
        limiter.append(time.perf_counter() - started)
    if RATE_LIMITER_ERRORS._value.get() != errors_before:
        raise SystemExit(f"Redis at {settings.REDIS_URL} failed during the measurement")

    recorded = []
    for _ in range(count * 5):
        started = time.perf_counter()
        HTTP_DURATION.labels("bookings", "POST").observe(0.012)
        HTTP_REQUESTS.labels("bookings", "POST", "201").inc()
        BOOKING_REQUESTS.labels("sync", "created").inc()
        BOOKING_DURATION.labels("sync").observe(0.011)
        recorded.append(time.perf_counter() - started)

    result = {
        "requests": count,
        "rate_limiter": _micros(limiter),
        "metrics_per_request": _micros(recorded),
    }
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
