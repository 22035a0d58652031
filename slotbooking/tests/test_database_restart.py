"""A database restart under a live gunicorn costs no request a 503 (stale kept connections).

The test runs its own PostgreSQL cluster under a temporary data dir, so restarting it does not
disturb the cluster the rest of the suite uses, and gunicorn exactly as `make run` starts it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from slotbooking.tests.processes import ROOT, clean_environment, free_port, http

WORKERS = 2


def embedded(env: dict[str, str], action: str) -> str:
    result = subprocess.run(  # noqa: S603  # our own interpreter and module
        [sys.executable, "-m", "devserver.embedded", "postgres", action],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.strip()


def health_statuses(base: str, count: int, *, parallel: int = 1) -> list[int]:
    def one(_: int) -> int:
        return http("GET", f"{base}/api/health", timeout=30)[0]

    with ThreadPoolExecutor(parallel) as pool:
        return list(pool.map(one, range(count)))


@pytest.mark.timeout(300)
def test_after_a_database_restart_every_worker_answers_its_first_request(tmp_path):
    env = clean_environment(
        tmp_path, WEB_CONCURRENCY=str(WORKERS), LOG_LEVEL="critical", DJANGO_ENV="development"
    )
    env["DATABASE_URL"] = embedded(env, "start")
    env["DATABASE_CONN_MAX_AGE"] = "600"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
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
        while True:
            try:
                if http("GET", f"{base}/api/health", timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, "gunicorn exited"
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
        # Every worker opens and keeps its connection.
        assert set(health_statuses(base, 40, parallel=WORKERS * 2)) == {200}

        embedded(env, "stop")
        embedded(env, "start")

        # Sequential requests: each idle worker meets its stale connection on its first one.
        after_restart = health_statuses(base, 20)
        after_restart += health_statuses(base, 20, parallel=WORKERS * 2)
        assert after_restart == [200] * 40
    finally:
        server.terminate()
        server.wait(timeout=30)
        embedded(env, "stop")
