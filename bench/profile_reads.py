"""Profile the read scenarios with pyinstrument: `python -m bench.profile_reads [N]`.

Run with DATABASE_URL pointing at the bench database (bench/run.py's, `slotbooking_bench`). Each
scenario (get-slot, list-slots as bench/scenarios.py builds them, and book-spread's bookings,
deleted afterwards as bench/run.py does) sends N requests straight into
the WSGI application that gunicorn serves (slotbooking.wsgi.application), so the profile is the
whole of Django's work per request (middleware, DRF, auth, the queries, the rendering) without
gunicorn's HTTP parsing or Django's test client around it. Writes
bench/results/profile-<scenario>.txt and .html (the call tree, then the SQL of one request), and
prints a JSON summary on stdout: CPU milliseconds per request unprofiled, queries per request.
The request log is on, as on the bench server: `python -m bench.profile_reads 2>/dev/null`.
"""

# ruff: noqa: S311  # random picks benchmark inputs, not secrets

from __future__ import annotations

import io
import json
import os
import random
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import django


def _environ(method: str, target: str, headers: dict[str, str], body: str) -> dict[str, Any]:
    """A WSGI environ as gunicorn builds it."""
    parts = urlsplit(target)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": parts.path,
        "QUERY_STRING": parts.query,
        "RAW_URI": target,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "wrk",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body.encode()),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in headers.items():
        key = name.upper().replace("-", "_")
        environ[key if key == "CONTENT_TYPE" else "HTTP_" + key] = value
    if body:
        environ["CONTENT_LENGTH"] = str(len(body.encode()))
    return environ


def _calibration_ms() -> float:
    """CPU milliseconds of a fixed pure-Python loop: on a shared machine (another process on the
    same core, a busy hypervisor) every CPU figure grows together, so the request costs are also
    given in these units, which compare better between runs than milliseconds do."""
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        total = 0
        for i in range(200_000):
            total += i
        best = min(best, time.process_time() - started)
    return best * 1000


def _caller(application: Callable[..., Iterable[bytes]]) -> Callable[[Any], None]:
    def call(request: Any) -> None:
        status: list[str] = []
        body = application(
            _environ(request.method, request.path, request.headers, request.body),
            lambda line, headers, exc_info=None: status.append(line),
        )
        try:
            b"".join(body)
        finally:
            getattr(body, "close", lambda: None)()  # request_finished, as gunicorn does
        if not status[0].startswith(("200", "201")):
            raise SystemExit(f"{request.method} {request.path} answered {status[0]}")

    return call


def main(count: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "slotbooking.settings")
    # As the bench server runs: the request log line included (send stderr to /dev/null).
    os.environ.setdefault("LOG_LEVEL", "info")
    django.setup()

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from pyinstrument import Profiler
    from pyinstrument.stack_sampler import get_stack_sampler

    from bench import fixture
    from bench.scenarios import Context, Request, build_get_slot, build_list_slots
    from slotbooking.wsgi import application

    url = os.environ["DATABASE_URL"]
    call = _caller(application)
    summary: dict[str, Any] = {}
    fixture.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    with fixture.connect(url) as conn:
        ctx = Context(conn=conn, rng=random.Random(7), duration=10.0, staff_token="")
        scenarios = {
            "get-slot": build_get_slot(ctx, 1),
            "list-slots": build_list_slots(ctx, 1),
        }
        # The per-request cost a booking pays beside its own work: as book-spread, each request
        # a different free slot for a different user (201s); the bookings are removed after.
        fixture.reset(conn)
        pairs = fixture.spread_pairs(conn, limit=2 * count + 400, rng=random.Random(7))
        scenarios["book-spread"] = [
            Request(
                "POST",
                "/api/bookings",
                {"x-user-id": user, "Content-Type": "application/json"},
                json.dumps({"slotId": slot}),
            )
            for user, slot in pairs
        ]
    for name, requests in scenarios.items():
        # Bookings are not repeated (a second one of a pair would be a 409).
        repeat = 1 if name == "book-spread" else 1 + (2 * count + 200) // len(requests)
        queue = iter(requests * repeat)
        for _ in range(100):  # warm-up: imports, the URL resolver, connections
            call(next(queue))
        timed = max(count, 200)
        cpu_s = wall_s = calibration_ms = 0.0
        for _ in range(10):  # ten rounds, each a calibration and a tenth of the requests
            calibration_ms += _calibration_ms() / 10
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(timed // 10):
                call(next(queue))
            cpu_s += time.process_time() - cpu
            wall_s += time.perf_counter() - wall
        timed = timed // 10 * 10
        cpu_ms, wall_ms = cpu_s * 1000 / timed, wall_s * 1000 / timed
        with CaptureQueriesContext(connection) as captured:
            call(next(queue))
        queries = [q["sql"] for q in captured.captured_queries]

        # Sampled on CPU time: waits for PostgreSQL do not count, only the app's own work.
        get_stack_sampler().timer_func = time.thread_time
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for _ in range(count):
            call(next(queue))
        profiler.stop()
        get_stack_sampler().timer_func = None

        (fixture.RESULTS_DIR / f"profile-{name}.html").write_text(profiler.output_html())
        text = profiler.output_text(unicode=False, color=False, show_all=False)
        sql = "\n".join(f"{i:2d}. {q}" for i, q in enumerate(queries, start=1))
        (fixture.RESULTS_DIR / f"profile-{name}.txt").write_text(
            f"{count} {name} requests into slotbooking.wsgi.application, "
            f"{cpu_ms:.3f} ms CPU ({wall_ms:.3f} ms wall) each unprofiled, "
            f"{cpu_ms / calibration_ms:.2f} calibration loops ({calibration_ms:.3f} ms).\n"
            f"The call tree is sampled on CPU time.\n\n{text}\n"
            f"SQL of one request ({len(queries)} queries):\n{sql}\n"
        )
        summary[name] = {
            "requests": timed,
            "cpu_ms_per_request": round(cpu_ms, 3),
            "wall_ms_per_request": round(wall_ms, 3),
            "calibration_ms": round(calibration_ms, 3),
            "calibrated_cost": round(cpu_ms / calibration_ms, 2),
            "queries_per_request": len(queries),
        }
    with fixture.connect(url) as conn:
        fixture.reset(conn)
    json.dump(summary, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
