"""gunicorn settings shared by `make run`, `make bench` and the Docker image.

`--bind` and `--log-level` come from the command line; the worker count is decided here so the
three agree. WEB_CONCURRENCY (environment or .env) wins; otherwise two sync workers per core in
both modes: a booking is a few short statements, so a worker spends much of it waiting on
PostgreSQL (or, queued, on Redis for the outcome), and a second worker per core fills that wait
(measured with make bench: bench/results/experiments/workers-*, queued-web-workers-*).
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "slotbooking.settings")

from django.conf import settings  # reads .env and validates, like the app

_cores = os.cpu_count() or 1
_per_core = 2
workers = settings.WEB_CONCURRENCY if "WEB_CONCURRENCY" in os.environ else _cores * _per_core

# Every answer is the JSON envelope, even those gunicorn writes itself (a request it cannot
# parse); sizes stay bounded, and the application's own lower limits answer first
# (core/api/http_limits.py).
from core.api.http_limits import (  # noqa: E402  # after DJANGO_SETTINGS_MODULE is set
    SERVER_HEADER_FIELD_SIZE,
    SERVER_HEADER_FIELDS,
    SERVER_REQUEST_LINE,
)

worker_class = "slotbooking.gunicorn_worker.EnvelopeSyncWorker"
limit_request_line = SERVER_REQUEST_LINE
limit_request_fields = SERVER_HEADER_FIELDS
limit_request_field_size = SERVER_HEADER_FIELD_SIZE


def on_starting(server: object) -> None:
    # In the master, before any worker exists: samples of processes gone since the last run go.
    from core.metrics.registry import metrics_dir_clean

    metrics_dir_clean()


def child_exit(server: object, worker: object) -> None:
    from core.metrics.registry import metrics_process_dead

    metrics_process_dead(worker.pid)  # type: ignore[attr-defined]
