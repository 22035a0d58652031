"""Profile N successful booking requests with pyinstrument: `python -m bench.profile_booking N`.

Run by bench/run.py with DATABASE_URL pointing at the bench database. The requests go through
Django's test client, so the whole Django stack is profiled (middleware, DRF, auth, the service,
the serializer) without gunicorn's HTTP parsing. Writes bench/results/profile-booking.html and
.txt (the call tree, then the SQL of one booking), and prints a JSON summary on stdout.
"""

# ruff: noqa: S311  # random picks benchmark inputs, not secrets

from __future__ import annotations

import json
import os
import random
import sys
import time

import django


def main(count: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "slotbooking.settings")
    os.environ.setdefault("LOG_LEVEL", "warning")  # the profile is of the work, not of logging
    django.setup()

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from pyinstrument import Profiler

    from bench import fixture

    url = os.environ["DATABASE_URL"]
    warmup, timed = 30, 100
    with fixture.connect(url) as conn:
        fixture.reset(conn)
        pairs = fixture.spread_pairs(conn, limit=warmup + timed + 1 + count, rng=random.Random(7))
    if len(pairs) < warmup + timed + 1 + count:
        raise SystemExit("not enough free (user, slot) pairs to profile")
    client = Client(HTTP_HOST="127.0.0.1")

    def book(user_id: str, slot_id: str) -> None:
        response = client.post(
            "/api/bookings",
            data=json.dumps({"slotId": slot_id}),
            content_type="application/json",
            HTTP_X_USER_ID=user_id,
        )
        if response.status_code != 201:
            raise SystemExit(f"booking answered {response.status_code}: {response.content!r}")

    queue = iter(pairs)
    for _ in range(warmup):
        book(*next(queue))
    started = time.perf_counter()
    for _ in range(timed):
        book(*next(queue))
    ms_per_request = (time.perf_counter() - started) * 1000 / timed
    with CaptureQueriesContext(connection) as captured:
        book(*next(queue))
    queries = [q["sql"] for q in captured.captured_queries]

    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(count):
        book(*next(queue))
    profiler.stop()

    from bench.fixture import RESULTS_DIR

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "profile-booking.html").write_text(profiler.output_html())
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    sql = "\n".join(f"{i:2d}. {q}" for i, q in enumerate(queries, start=1))
    (RESULTS_DIR / "profile-booking.txt").write_text(
        f"{count} successful POST /api/bookings through django.test.Client, "
        f"{ms_per_request:.2f} ms each unprofiled.\n\n{text}\n"
        f"SQL of one successful booking ({len(queries)} queries):\n{sql}\n"
    )
    with fixture.connect(url) as conn:
        fixture.reset(conn)
    json.dump(
        {
            "requests": count,
            "ms_per_request": round(ms_per_request, 3),
            "queries_per_booking": len(queries),
            "queries": queries,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
