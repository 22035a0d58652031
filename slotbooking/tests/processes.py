"""Helpers for tests that start the real servers: free ports, HTTP calls, leftover processes."""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# Variables of an outer `make` (jobserver descriptors) must not leak into a `make` we start.
MAKE_VARIABLES = ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clean_environment(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a fresh checkout: no DATABASE_URL/REDIS_URL, our own data dir."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "REDIS_URL", "DATABASE_TEST_NAME", "BOOKING_MODE")
        and name not in MAKE_VARIABLES
        and not name.startswith(("PYTEST_", "DJANGO_"))
    }
    env["SLOTBOOKING_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


def http(
    method: str,
    url: str,
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, dict[str, str], bytes]:
    """One request with urllib; returns (status, headers, raw body) for any status."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310  # our server
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def wait_for_health(base: str, *, seconds: float, alive: Any = None) -> dict[str, Any]:
    """Poll /api/health until it answers 200; `alive()` false stops the wait early."""
    deadline = time.monotonic() + seconds
    last: Any = None
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            break
        try:
            status, _, body = http("GET", f"{base}/api/health", timeout=5)
            last = (status, body[:500])
            if status == 200:
                return json.loads(body)
        except OSError as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"{base}/api/health never answered 200; last: {last!r}")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def processes_of(*, session: int | None = None, mentioning: str | None = None) -> list[str]:
    """Live processes in `session`, or whose command line or environment mention `mentioning`.

    Generic on purpose: whatever a start-up script adds (web server, workers, beat, embedded
    servers), it runs in the session we started or carries our data dir in its environment.
    """
    found = []
    needle = mentioning.encode() if mentioning else None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        stat = _read(entry / "stat").decode(errors="replace")
        if not stat:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields and fields[0] == "Z":
            continue  # a zombie holds nothing; its parent just has not reaped it yet
        cmdline = _read(entry / "cmdline").replace(b"\0", b" ").strip()
        in_session = session is not None and len(fields) > 3 and int(fields[3]) == session
        mentions = needle is not None and (needle in cmdline or needle in _read(entry / "environ"))
        if in_session or mentions:
            found.append(f"{entry.name}: {cmdline.decode(errors='replace')}")
    return found


def wait_until_gone(*, session: int | None, mentioning: str | None, seconds: float) -> list[str]:
    """The processes still left after up to `seconds` of waiting (empty when all are gone)."""
    deadline = time.monotonic() + seconds
    left = processes_of(session=session, mentioning=mentioning)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = processes_of(session=session, mentioning=mentioning)
    return left
