"""`make run` from a fresh start, in both booking modes (SPEC §11).

Each run gets a new SLOTBOOKING_DATA_DIR, no DATABASE_URL or REDIS_URL and a port of its own,
as on a new machine: it must bring up whatever it needs, answer health 200, take a booking with
a demo token it printed, stop on Ctrl-C, and leave no process behind once the embedded servers
it started are stopped as `make db-stop` and `make redis-stop` would.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from slotbooking.tests.processes import (
    ROOT,
    clean_environment,
    free_port,
    http,
    processes_of,
    wait_for_health,
    wait_until_gone,
)

TOKEN = re.compile(r"\bsb_[A-Za-z0-9_\-]+")


class MakeRun:
    def __init__(self, data_dir: Path, mode: str) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.env = clean_environment(data_dir, BOOKING_MODE=mode, PORT=str(self.port))
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            ["make", "--no-print-directory", "run"],  # noqa: S607  # make from PATH
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group and session, like a terminal's
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def interrupt(self) -> int:
        """Ctrl-C: SIGINT to the whole process group; returns make's exit status."""
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            raise AssertionError(f"make run ignored Ctrl-C:\n{self.output[-3000:]}") from None

    def stop_embedded_servers(self) -> None:
        for service in ("postgres", "redis"):
            subprocess.run(  # noqa: S603
                [sys.executable, "-m", "devserver.embedded", service, "stop"],
                cwd=ROOT,
                env=self.env,
                capture_output=True,
                timeout=60,
                check=False,
            )

    def kill_leftovers(self) -> None:
        for line in processes_of(session=self.process.pid, mentioning=str(self.data_dir)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(line.split(":")[0]), signal.SIGKILL)


def book_with_a_printed_token(run: MakeRun) -> dict:
    tokens = list(dict.fromkeys(TOKEN.findall(run.output)))
    assert tokens, f"make run printed no demo token:\n{run.output[-3000:]}"
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for token in tokens:
        auth = {"Authorization": f"Bearer {token}"}
        status, _, body = http("GET", f"{run.base}/api/users/me", headers=auth)
        assert status == 200, body
        me = json.loads(body)["data"]
        status, _, body = http(
            "GET", f"{run.base}/api/slots?status=AVAILABLE&startDate={now}&limit=100", headers=auth
        )
        assert status == 200, body
        slots = [s for s in json.loads(body)["data"] if s["hostId"] != me["id"]]
        if "GUEST" in me["roles"] and slots:
            status, _, body = http(
                "POST", f"{run.base}/api/bookings", body={"slotId": slots[0]["id"]}, headers=auth
            )
            assert status == 201, body
            return json.loads(body)["data"]
    raise AssertionError("no printed token could book a demo slot")


@pytest.mark.timeout(600)
@pytest.mark.parametrize("mode", ["sync", "queued"])
def test_make_run_from_a_fresh_data_dir_serves_books_and_stops_without_leftovers(tmp_path, mode):
    data_dir = tmp_path / "var"
    run = MakeRun(data_dir, mode)
    try:
        health = wait_for_health(run.base, seconds=400, alive=lambda: run.process.poll() is None)
        expected_checks = {"database": "ok"} | ({"redis": "ok"} if mode == "queued" else {})
        assert health["data"]["checks"] == expected_checks

        booking = book_with_a_printed_token(run)
        assert booking["status"] == "CONFIRMED"

        status = run.interrupt()
        assert status in (0, 2, 130, -signal.SIGINT), run.output[-3000:]
        # What make itself started is gone: web server, workers, anything else in its session.
        assert wait_until_gone(session=run.process.pid, mentioning=None, seconds=30) == []
        run.stop_embedded_servers()
        # And with the embedded servers stopped, nothing else runs with our data dir.
        assert wait_until_gone(session=None, mentioning=str(data_dir), seconds=30) == []
    finally:
        if run.process.poll() is None:
            os.killpg(run.process.pid, signal.SIGKILL)
        run.stop_embedded_servers()
        run.kill_leftovers()
