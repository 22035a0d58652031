"""Every answer is the JSON envelope of SPEC §1.3, whatever the method, path, size or layer.

The CSRF cases use a client that enforces CSRF checks as a browser-facing server does (Django's
test client skips them by default). The size and parsing cases go through the real gunicorn,
started with slotbooking/gunicorn_conf.py, over raw sockets.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
from django.test import Client

from accounts.tests.factories import UserFactory, token_for
from slotbooking.tests.envelopes import JSON, assert_error
from slotbooking.tests.processes import ROOT, clean_environment, free_port

UNSAFE_METHODS = ["POST", "PUT", "PATCH", "DELETE"]
UNKNOWN_PATHS = [
    "/api/v2/bookings",
    "/api/users/me/settings",
    f"/api/bookings/{uuid.UUID(int=7)}/nothing-here",
    "/api/nothing",
    "/nothing",
    "/api/slots/host/extra/",
]


def assert_not_found(response) -> None:
    assert_error(
        response, 404, "NOT_FOUND", "ENDPOINT_NOT_FOUND", "The requested endpoint does not exist"
    )


@pytest.mark.django_db
@pytest.mark.parametrize("credentials", ["none", "user-id", "token", "bad-token"])
@pytest.mark.parametrize("path", UNKNOWN_PATHS)
@pytest.mark.parametrize("method", UNSAFE_METHODS)
def test_an_unsafe_method_on_an_unknown_path_is_404_not_a_csrf_page(method, path, credentials):
    client = Client(enforce_csrf_checks=True)
    headers = {}
    if credentials != "none":
        user = UserFactory.create()
        headers = {
            "user-id": {"x-user-id": str(user.pk)},
            "token": {"Authorization": f"Bearer {token_for(user)}"},
            "bad-token": {"Authorization": "Bearer sb_nope"},
        }[credentials]

    response = client.generic(
        method, path, data=b'{"a": 1}', content_type="application/json", headers=headers
    )

    assert_not_found(response)


@pytest.mark.django_db
def test_a_cookie_session_does_not_turn_an_unknown_path_into_a_csrf_failure():
    client = Client(enforce_csrf_checks=True)
    client.cookies["csrftoken"] = "x" * 32
    client.cookies["sessionid"] = "whatever"

    response = client.post("/api/v2/bookings", data={"a": "1"})

    assert_not_found(response)


@pytest.mark.django_db
def test_a_real_csrf_failure_is_a_403_envelope():
    client = Client(enforce_csrf_checks=True)

    response = client.post("/admin/login/", data={"username": "a", "password": "b"})

    assert_error(
        response,
        403,
        "FORBIDDEN",
        "CSRF_FAILED",
        "The form's CSRF check failed; reload the page and try again",
    )


@pytest.mark.django_db
def test_the_application_refuses_a_long_target_with_414():
    response = Client().get("/api/slots?startDate=" + "a" * 8100)

    assert_error(response, 414, "URI_TOO_LONG", "URI_TOO_LONG", "The request URI is too long")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "headers",
    [{"x-big": "a" * 9000}, {f"x-h{n}": "1" for n in range(120)}],
    ids=["one-field-too-long", "too-many-fields"],
)
def test_the_application_refuses_oversized_headers_with_431(headers):
    response = Client().get("/api/health", headers=headers)

    assert_error(
        response,
        431,
        "REQUEST_HEADER_FIELDS_TOO_LARGE",
        "REQUEST_HEADER_FIELDS_TOO_LARGE",
        "The request header fields are too large",
    )


# THROUGH GUNICORN ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory) -> Iterator[int]:
    """gunicorn as `make run` starts it (its config file), one worker, on a free port."""
    port = free_port()
    env = clean_environment(
        tmp_path_factory.mktemp("gunicorn"), WEB_CONCURRENCY="1", LOG_LEVEL="critical"
    )
    # The shared development database of this checkout: these requests never reach it.
    env.pop("SLOTBOOKING_DATA_DIR")
    server = subprocess.Popen(  # noqa: S603  # our own interpreter and config
        [
            sys.executable,
            "-m",
            "gunicorn",
            "slotbooking.wsgi",
            "-c",
            "slotbooking/gunicorn_conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "critical",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while raw(port, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", expect_answer=False) is None:
            assert server.poll() is None, "gunicorn exited"
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def raw(port: int, request: bytes, *, expect_answer: bool = True):
    """Send raw bytes; return (status, headers, body) of the answer (None if unreachable)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            with contextlib.suppress(OSError):  # a server may answer and close before the end
                conn.sendall(request)
                conn.shutdown(socket.SHUT_WR)
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
    except OSError:
        if expect_answer:
            raise
        return None
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


def request_bytes(method: str, target: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: localhost", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if method in UNSAFE_METHODS:
        lines += ["Content-Type: application/json", "Content-Length: 2"]
        return ("\r\n".join(lines) + "\r\n\r\n{}").encode()
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def assert_envelope(answer, status: int, reason: str) -> None:
    got_status, headers, body = answer
    assert got_status == status, body
    assert headers["content-type"] == JSON
    payload = json.loads(body)
    assert payload["success"] is False
    assert payload["error"]["reason"] == reason
    assert headers.get("x-request-id")


@pytest.mark.parametrize("path", UNKNOWN_PATHS)
@pytest.mark.parametrize("method", UNSAFE_METHODS)
def test_gunicorn_serves_unsafe_methods_on_unknown_paths_as_404(gunicorn, method, path):
    assert_envelope(raw(gunicorn, request_bytes(method, path)), 404, "ENDPOINT_NOT_FOUND")


def test_gunicorn_reads_a_request_line_longer_than_its_default_limit(gunicorn):
    # gunicorn's default limit is 4094 bytes; ours lets the application read and answer.
    status, headers, body = raw(gunicorn, request_bytes("GET", "/?q=" + "a" * 4100))

    assert status == 200
    assert headers["content-type"] == JSON
    assert json.loads(body)["success"] is True


@pytest.mark.parametrize(
    "length",
    [
        7980,  # over the application's limit, within gunicorn's
        9000,  # over gunicorn's own limit: its worker's envelope
        100_000,
    ],
)
def test_gunicorn_answers_a_long_request_line_with_a_414_envelope(gunicorn, length):
    answer = raw(gunicorn, request_bytes("GET", "/api/slots?startDate=" + "a" * length))

    assert_envelope(answer, 414, "URI_TOO_LONG")


@pytest.mark.parametrize(
    "headers",
    [
        {"x-big": "a" * 9000},  # over 8 KiB: the application's limit
        {"x-big": "a" * 20_000},  # over gunicorn's own limit
        {f"x-h{n}": "1" for n in range(150)},  # more fields than the application reads
        {f"x-h{n}": "1" for n in range(1000)},  # more than gunicorn reads
    ],
    ids=["field-9k", "field-40k", "fields-150", "fields-1000"],
)
def test_gunicorn_answers_oversized_headers_with_a_431_envelope(gunicorn, headers):
    answer = raw(gunicorn, request_bytes("GET", "/api/health", headers))

    assert_envelope(answer, 431, "REQUEST_HEADER_FIELDS_TOO_LARGE")


@pytest.mark.parametrize(
    "request_line",
    [b"NOT A REQUEST\r\n\r\n", b"GET /api/health HTTP/9.9\r\n\r\n", b"G\x00T / HTTP/1.1\r\n\r\n"],
)
def test_gunicorn_answers_a_malformed_request_with_a_400_envelope(gunicorn, request_line):
    assert_envelope(raw(gunicorn, request_line), 400, "MALFORMED_REQUEST")


def test_gunicorn_still_serves_a_request_within_the_limits(gunicorn):
    answer = raw(gunicorn, request_bytes("GET", "/", {"x-fine": "a" * 8000}))

    assert answer[0] == 200
    assert json.loads(answer[2])["success"] is True
