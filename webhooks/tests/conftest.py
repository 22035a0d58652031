"""Webhook fixtures: a real HTTP receiver on 127.0.0.1 and a real default-queue worker.

The receiver is a threaded http.server inside the test process that verifies each signature as a
real receiver would, and answers as the test says (a status, or hanging until released). The
worker is the subprocess of `manage.py run_booking_workers --with-beat`'s own command line,
pointed at the test database and the tests' Redis database, with private addresses allowed (the
receiver is on loopback) and a short WEBHOOK_TIMEOUT.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings

from bookings.management.commands.run_booking_workers import default_worker_command
from bookings.tests.conftest import _database_url, queue_redis, queue_redis_url  # noqa: F401
from slotbooking.celery import app as celery_app

WORKER_TIMEOUT = 2  # WEBHOOK_TIMEOUT of the worker, seconds
WORKER_START_TIMEOUT = 60
WORKER_ENV = {
    "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",
    "WEBHOOK_TIMEOUT": str(WORKER_TIMEOUT),
    "LOG_FORMAT": "text",
}


def wait_for(predicate: Callable[[], Any], *, timeout: float = 30, what: str = "") -> Any:
    """Poll until `predicate()` is truthy and return it; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what or predicate}")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool  # the signature checked out with the receiver's secret

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def verify(secret: str, header: str, body: bytes, *, tolerance: int = 300) -> bool:
    """What the README tells receivers to do: recompute v1, compare in constant time, and
    reject a timestamp older than 5 minutes."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    fresh = abs(time.time() - timestamp) <= tolerance
    return fresh and hmac.compare_digest(expected.hexdigest(), parts["v1"])


@dataclass
class Receiver:
    """Answers each POST with the next scripted reply: an int status, or "hang" (held until
    release() or 30 s). Then 200 for ever."""

    port: int = 0
    secrets: dict[str, str] = field(default_factory=dict)  # path -> signing secret
    received: list[Received] = field(default_factory=list)
    replies: dict[str, list[int | str]] = field(default_factory=dict)  # path -> script
    hanging: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, *replies: int | str) -> None:
        self.replies[path] = list(replies)

    def release(self) -> None:
        self.released.set()

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def next_reply(self, path: str) -> int | str:
        with self.lock:
            script = self.replies.get(path) or []
            return script.pop(0) if script else 200


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = self.path.split("?", 1)[0]
            secret = receiver.secrets.get(path, "")
            header = self.headers.get("X-SlotBooking-Signature", "")
            verified = bool(secret and header) and verify(secret, header, body)
            headers = dict(self.headers.items())
            with receiver.lock:
                receiver.received.append(Received(path, headers, body, verified))
            reply = receiver.next_reply(path)
            if reply == "hang":
                receiver.hanging.set()
                receiver.released.wait(30)
                reply = 200
            assert isinstance(reply, int)
            self.send_response(reply)
            if reply in (301, 302, 307, 308):
                self.send_header("Location", "/redirected")
            payload = f"reply {reply}".encode()
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the sender gave up (timeout): nobody to answer
                self.wfile.write(payload)

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.release()
    server.shutdown()
    server.server_close()


class WebhookWorker:
    """The default-queue worker as a subprocess, which tests may SIGKILL and start again."""

    def __init__(self, *, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log = log_dir / "default-worker.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.name = f"default@{socket.gethostname()}"

    def start(self) -> None:
        self.stop()
        log = self.log.open("ab")
        self.process = subprocess.Popen(  # noqa: S603
            default_worker_command(loglevel="info", beat=False),
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=django_settings.BASE_DIR,
        )
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the worker exited:\n{self.log.read_text()[-3000:]}")
            if celery_app.control.ping(destination=[self.name], timeout=0.5):
                return
        pytest.fail(f"the worker did not answer a ping in {WORKER_START_TIMEOUT} s")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: the worker dies wherever it is, in the middle of an HTTP request included."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None


def purge_default_queue(client: redis.Redis) -> None:
    client.delete("default")


@pytest.fixture(scope="session")
def webhook_worker_session(
    django_db_setup: None,
    django_db_blocker: Any,
    queue_redis: redis.Redis,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[WebhookWorker]:
    with django_db_blocker.unblock():
        database_url = _database_url()
    env = {**os.environ, **WORKER_ENV}
    env.pop("DATABASE_TEST_NAME", None)
    env.update(DATABASE_URL=database_url, REDIS_URL=queue_redis_url())
    purge_default_queue(queue_redis)
    worker = WebhookWorker(env=env, log_dir=tmp_path_factory.mktemp("webhook-worker"))
    yield worker
    worker.stop()


@pytest.fixture
def webhook_worker(
    webhook_worker_session: WebhookWorker,
    queue_redis: redis.Redis,  # noqa: F811  # the fixture imported above
    settings: Any,
) -> WebhookWorker:
    """The worker running, no task of an earlier test left; this process allows loopback too."""
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    purge_default_queue(queue_redis)
    if not webhook_worker_session.running():
        webhook_worker_session.start()
    return webhook_worker_session
