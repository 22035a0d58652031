"""gunicorn workers whose own error answers use the JSON envelope, not gunicorn's HTML page.

gunicorn answers by itself when it cannot parse a request (a line or headers above its limits,
a malformed request line or header); the application never sees those requests. These workers
write the same envelope the application would: 414 URI_TOO_LONG, 431
REQUEST_HEADER_FIELDS_TOO_LARGE, 400 MALFORMED_REQUEST.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
import uuid
from http import HTTPStatus
from typing import Any

from gunicorn import util
from gunicorn.http.errors import LimitRequestHeaders, LimitRequestLine, ParseException
from gunicorn.workers.gthread import ThreadWorker
from gunicorn.workers.sync import SyncWorker

from core.errors import (
    DomainError,
    HeadersTooLargeError,
    MalformedRequestError,
    UriTooLongError,
)


def parse_error(exc: BaseException) -> DomainError | None:
    """The envelope's error for a request gunicorn could not parse, or None for other errors."""
    if isinstance(exc, LimitRequestLine):
        return UriTooLongError()
    if isinstance(exc, LimitRequestHeaders):
        return HeadersTooLargeError()
    if isinstance(exc, ParseException):
        return MalformedRequestError()
    return None


def envelope_response(error: DomainError) -> bytes:
    body = json.dumps(
        {"success": False, "error": error.as_payload()}, separators=(",", ":")
    ).encode()
    head = (
        f"HTTP/1.1 {error.http_status} {HTTPStatus(error.http_status).phrase}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Request-Id: {uuid.uuid4()}\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "\r\n"
    )
    return head.encode("latin-1") + body


DRAIN_BYTES = 1024 * 1024
DRAIN_SECONDS = 1.0


def drain(client: socket.socket) -> None:
    """Read (and drop) what the client is still sending, bounded, before the socket closes.

    Closing a socket with unread input makes the kernel send a reset, and a client that is still
    sending then loses our answer before it reads it. Reading up to DRAIN_BYTES for at most
    DRAIN_SECONDS lets the answer arrive (a "lingering close").
    """
    with contextlib.suppress(OSError):
        client.shutdown(socket.SHUT_WR)
        client.settimeout(DRAIN_SECONDS)
        deadline = time.monotonic() + DRAIN_SECONDS
        read = 0
        while read < DRAIN_BYTES and time.monotonic() < deadline:
            chunk = client.recv(65536)
            if not chunk:
                break
            read += len(chunk)


class EnvelopeErrorsMixin:
    log: Any

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        error = parse_error(exc)
        if error is None:
            super().handle_error(req, client, addr, exc)  # type: ignore[misc]
            return
        ip = (addr or ("", -1))[0]
        self.log.warning("Invalid request from ip=%s: %s (%s)", ip, exc, error.reason)
        try:
            util.write_nonblock(client, envelope_response(error))
            drain(client)
        except Exception:  # the client may be gone already; nothing to answer
            self.log.debug("Failed to send error message.")


class EnvelopeSyncWorker(EnvelopeErrorsMixin, SyncWorker):
    """gunicorn's sync worker (the default of gunicorn_conf.py)."""


class EnvelopeThreadWorker(EnvelopeErrorsMixin, ThreadWorker):
    """gunicorn's gthread worker, for `--worker-class` with `--threads`."""
