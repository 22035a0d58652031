"""Real servers for tests: a private redis-server that a test may stop, and gunicorn.

Both run as child processes of the test on free loopback ports and are stopped by their own
pid, never by name, so the shared embedded Redis and anyone else's servers are never touched.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

ROOT = Path(settings.BASE_DIR)
START_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def database_url_for_subprocess() -> str:
    """The test database, as a subprocess must reach it."""
    connection.ensure_connection()
    db = connection.settings_dict
    user = quote(db.get("USER") or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _redis_binary() -> str:
    found = os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
    if not found and Path("/usr/bin/redis-server").exists():
        found = "/usr/bin/redis-server"
    assert found, "redis-server is needed (make redis installs it)"
    return found


@dataclass
class PrivateRedis:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(30)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{what} exited at start ({process.returncode})"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{what} did not listen on {port} within {START_TIMEOUT} s")


@contextmanager
def private_redis(workdir: Path) -> Iterator[PrivateRedis]:
    """A redis-server of this test alone (no persistence), stopped on exit if still running."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [
            _redis_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = PrivateRedis(process=process, port=port)
    try:
        _wait_for_port(port, process, "redis-server")
        yield server
    finally:
        server.stop()


@dataclass
class Gunicorn:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextmanager
def gunicorn(workdir: Path, *, workers: int, env: dict[str, str]) -> Iterator[Gunicorn]:
    """gunicorn with the project's config (hooks included) on the test database."""
    port = free_port()
    log = workdir / f"gunicorn-{port}.log"
    full_env = {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "LOG_FORMAT": "text",
        **env,
    }
    full_env.pop("DATABASE_TEST_NAME", None)
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "slotbooking.wsgi",
        "-c",
        "slotbooking/gunicorn_conf.py",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    with log.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, env=full_env, stdout=out, stderr=out
        )
    server = Gunicorn(process=process, port=port, log=log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert process.poll() is None, f"gunicorn exited at start:\n{server.log_text()}"
            try:
                with urllib.request.urlopen(f"{server.url}/api/health", timeout=2):  # noqa: S310
                    break
            except (OSError, urllib.error.HTTPError):
                assert time.monotonic() < deadline, f"gunicorn not ready:\n{server.log_text()}"
                time.sleep(0.2)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
