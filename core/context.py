"""The request context: the id of the request being served, in a context variable.

Set by the request middleware for the whole request, and by the queued booking task for the
task it runs, from the id the API put in the payload. Read by the log filter (every log line
of the request names it), by the audit records (slot and booking events) and by the queued
dispatch. Threads and tasks without a request have none.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request (or queued task) being served, None outside one."""
    return _request_id.get()


@contextmanager
def request_context(request_id: str | None) -> Iterator[None]:
    """Serve one request or task under `request_id`; the previous value comes back after."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)
