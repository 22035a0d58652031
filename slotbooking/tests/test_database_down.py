"""With the database unreachable the API still answers in its envelope (SPEC §3.1, §5).

The server runs in a subprocess whose DATABASE_URL points at a closed port: a real connection
failure, nothing mocked.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = """
import json, django
django.setup()
from django.test import Client
client = Client(HTTP_HOST="localhost")
answers = {}
for path in ("/api/health", "/api/slots", "/"):
    response = client.get(path, HTTP_X_USER_ID="17fbffe9-2fa4-46f2-8919-ee191c32b712")
    answers[path] = [response.status_code, response.get("Retry-After"), response.json()]
print(json.dumps(answers))
"""


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends


def answers_with_the_database_down() -> dict[str, list]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "slotbooking.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{closed_port()}/slotbooking",
        "LOG_LEVEL": "critical",
    }
    result = subprocess.run(  # noqa: S603  # our own interpreter and script
        [sys.executable, "-c", REQUESTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_an_unreachable_database_gives_503_unhealthy_and_database_unavailable():
    answers = answers_with_the_database_down()

    assert answers["/api/health"] == [
        503,
        "5",
        {
            "success": False,
            "error": {
                "code": "SERVICE_UNAVAILABLE",
                "reason": "UNHEALTHY",
                "message": "Service is unhealthy",
                "details": {"checks": {"database": "error"}},
            },
        },
    ]
    assert answers["/api/slots"] == [
        503,
        "5",
        {
            "success": False,
            "error": {
                "code": "SERVICE_UNAVAILABLE",
                "reason": "DATABASE_UNAVAILABLE",
                "message": "The database is unavailable, please try again later",
            },
        },
    ]
    # The root needs no database at all.
    assert answers["/"][0] == 200
