"""Django's PostgreSQL backend; a persistent connection the server hung up on is dropped.

Web workers and Celery workers keep their connection between requests (CONN_MAX_AGE). When
PostgreSQL restarts, each idle connection is dead, and the first request that used it would
fail with 503 DATABASE_UNAVAILABLE although the server is up again. Django's own remedy,
CONN_HEALTH_CHECKS, costs a `SELECT 1` round trip on every request.

Instead, when Django checks its connections at the start of each request (and of each Celery
task), we ask the kernel whether the server's side of an idle connection has sent anything:
an idle PostgreSQL connection is silent unless the server is closing it (it sends an error
and hangs up when it shuts down or the backend is terminated). A readable socket means the
connection is finished, so it is closed before any statement of the request runs, and the
request's first query opens a new one. The check is one non-blocking `poll`, no query.
"""

from __future__ import annotations

import select

import psycopg
from django.db.backends.postgresql import base


def _hung_up(fileno: int) -> bool:
    """True when the idle connection's socket is readable (data or end of stream) or broken."""
    poller = select.poll()
    poller.register(fileno, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_unusable_or_obsolete(self) -> None:
        super().close_if_unusable_or_obsolete()
        if self.connection is None or self.in_atomic_block:
            return
        try:
            dead = self.connection.closed or _hung_up(self.connection.fileno())
        except (OSError, ValueError, psycopg.Error):
            dead = True
        if dead:
            self.close()
