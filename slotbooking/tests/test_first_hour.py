"""A new user's first hour: the README walkthrough, .env.example, make run's hints, compose.

These run what a reader would run, as printed: the README's shell block with bash and curl
against a live server, the Makefile's admin hint through bash, `make db-stop`, manage.py with
`.env.example` copied to `.env`, and docker-compose.yml through the Compose Specification's
JSON schema.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from accounts.models import User
from bookings.models import Booking, BookingStatus
from slots.models import Slot, SlotStatus

BASE_DIR = Path(settings.BASE_DIR)
PYTHON = sys.executable


def _setting_names() -> set[str]:
    text = (BASE_DIR / ".env.example").read_text()
    return set(re.findall(r"^#?\s?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without any of our settings: only .env (or `extra`) decides."""
    names = _setting_names()
    env = {k: v for k, v in os.environ.items() if k not in names and k != "DJANGO_SETTINGS_MODULE"}
    env.update(extra)
    return env


# .env.example and start-up errors (item 3) ---------------------------------------------------
def test_env_example_has_no_inline_comments_after_values():
    for line in (BASE_DIR / ".env.example").read_text().splitlines():
        if re.match(r"^[A-Z][A-Z0-9_]*=", line):
            assert "#" not in line, line


def test_env_example_copied_unchanged_to_env_starts_and_gives_the_documented_defaults(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(
        BASE_DIR,
        project,
        ignore=shutil.ignore_patterns(
            ".venv", "var", ".git", "staticfiles", "bench", "docs", "__pycache__", ".env"
        ),
    )
    shutil.copy(project / ".env.example", project / ".env")
    show = (
        "from django.conf import settings as s; "
        "print(s.BOOKING_MODE, s.BOOKING_QUEUE_WAIT, s.CELERY_VISIBILITY_TIMEOUT, s.LOG_FORMAT, "
        "s.SLOTBOOKING_DATA_DIR == __import__('pathlib').Path('var').resolve())"
    )
    result = subprocess.run(  # noqa: S603  # our own manage.py, fixed arguments
        [PYTHON, "manage.py", "shell", "-v", "0", "-c", show],
        cwd=project,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["sync", "10.0", "300.0", "json", "True"]

    check = subprocess.run(  # noqa: S603
        [PYTHON, "manage.py", "check"],
        cwd=project,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("BOOKING_MODE", "sync   # sync | queued", "BOOKING_MODE must be one of sync, queued"),
        ("BOOKING_MODE", "fast", "BOOKING_MODE must be one of sync, queued; got 'fast'"),
        ("BOOKING_QUEUE_WAIT", "100", "BOOKING_QUEUE_WAIT must be between 0.5 and 60; got '100'"),
        ("AUTH_OPEN_REGISTRATION", "maybe", "AUTH_OPEN_REGISTRATION must be true or false"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT must be one of json, text; got 'xml'"),
    ],
)
@pytest.mark.parametrize("entry", ["manage.py", "wsgi"])
def test_a_bad_setting_stops_start_up_with_one_line_naming_it(entry, variable, value, message):
    command = (
        [PYTHON, "manage.py", "check"]
        if entry == "manage.py"
        else [PYTHON, "-c", "import slotbooking.wsgi"]  # what gunicorn imports
    )
    result = subprocess.run(  # noqa: S603
        command,
        cwd=BASE_DIR,
        env=_clean_env(**{variable: value}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Configuration error: {message}")
    assert "Traceback" not in result.stderr


# make run's admin hint (item 4) and make db-stop (item 5) -------------------------------------
def _make_variable(name: str) -> str:
    result = subprocess.run(  # noqa: S603  # make with our own Makefile, fixed arguments
        ["make", "-s", "--no-print-directory", "--eval", f'show: ; @echo "$({name})"', "show"],  # noqa: S607
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)  # the command runs in its own process
def test_the_admin_hint_of_make_run_works_as_printed():
    makefile = (BASE_DIR / "Makefile").read_text()
    assert re.search(r'@echo "Admin: .*\$\(ADMIN_HINT\)', makefile)
    hint = _make_variable("ADMIN_HINT")
    assert hint.startswith("ADMIN_PASSWORD=")

    result = subprocess.run(  # noqa: S603
        ["/bin/bash", "-c", hint],
        cwd=BASE_DIR,
        env=_clean_env(DATABASE_URL=_database_url()),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    user = User.objects.get(email="you@example.com")
    assert user.is_superuser
    assert user.is_staff
    password = re.match(r"ADMIN_PASSWORD='([^']+)'", hint)
    assert password is not None
    assert user.check_password(password.group(1))


def test_make_db_stop_says_what_it_stopped(tmp_path):
    env = _clean_env(SLOTBOOKING_DATA_DIR=str(tmp_path))

    def make(target: str) -> str:
        result = subprocess.run(  # noqa: S603
            ["make", "-s", "--no-print-directory", target],  # noqa: S607
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert make("db-stop") == f"Embedded PostgreSQL was not running (data in {tmp_path}/postgres)"
    assert make("db").startswith("Embedded PostgreSQL: postgres://")
    assert make("db-stop") == f"Embedded PostgreSQL stopped (data kept in {tmp_path}/postgres)"
    assert make("db-stop") == f"Embedded PostgreSQL was not running (data in {tmp_path}/postgres)"


# The README's booking walkthrough (items 1 and 2) ----------------------------------------------
def _walkthrough() -> str:
    readme = (BASE_DIR / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", readme, flags=re.DOTALL)
    return next(block for block in blocks if block.startswith("API=http://127.0.0.1:3000/api"))


def _demo_tokens() -> dict[str, str]:
    out = io.StringIO()
    call_command("seed_demo", "--tokens", stdout=out)
    return dict(re.findall(r"(\S+@example\.com)\s+id=\S+\s+token=(\S+)", out.getvalue()))


@pytest.mark.django_db(transaction=True)  # curl talks to the live server's own connections
def test_the_readme_booking_walkthrough_works_twice_in_a_row(live_server, settings, tmp_path):
    settings.SLOTBOOKING_DATA_DIR = tmp_path
    tokens = _demo_tokens()
    script = _walkthrough()
    script = script.replace("API=http://127.0.0.1:3000/api", f"API={live_server.url}/api", 1)
    script = re.sub(r"^ALICE=sb_….*$", f"ALICE={tokens['host1@example.com']}", script, flags=re.M)
    script = re.sub(
        r"^CHARLIE=sb_….*$", f"CHARLIE={tokens['guest1@example.com']}", script, flags=re.M
    )
    assert tokens == _demo_tokens()  # the same tokens on a second run (item 2)

    uuid = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    slots = []
    for _ in range(2):
        result = subprocess.run(  # noqa: S603
            ["/bin/bash", "-c", script],
            env={**os.environ, "PATH": os.environ["PATH"]},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        slot = re.search(rf"slot: ({uuid})\n", result.stdout)
        booking = re.search(rf"booking: ({uuid})\n", result.stdout)
        assert slot, result.stdout
        assert booking, result.stdout
        slots.append(slot.group(1))
        # The booking is of the slot Alice just published, and the undo cancelled both.
        row = Booking.objects.select_related("slot", "user").get(pk=booking.group(1))
        assert str(row.slot_id) == slot.group(1)
        assert row.user.email == "guest1@example.com"
        assert row.status == BookingStatus.CANCELLED
        assert Slot.objects.get(pk=slot.group(1)).status == SlotStatus.CANCELLED
        assert '"success":false' not in result.stdout.replace(" ", "").split("booking:")[1]
    assert slots[0] != slots[1]


# docker-compose.yml (item 6) ----------------------------------------------------------------
def _compose() -> dict:
    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def test_docker_compose_file_is_valid_against_the_compose_specification_schema():
    # The Compose Specification's schema as vendored by check-jsonschema (a dev requirement).
    result = subprocess.run(  # noqa: S603
        [
            str(Path(PYTHON).parent / "check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(BASE_DIR / "docker-compose.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_docker_compose_schema_check_catches_a_broken_file(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    compose = _compose()
    compose["services"]["web"]["healthcheck"]["intervall"] = "10s"  # a typo
    compose["services"]["worker"]["depends_on"]["db"] = {"condition": "when_ready"}
    broken.write_text(yaml.safe_dump(compose))
    result = subprocess.run(  # noqa: S603
        [
            str(Path(PYTHON).parent / "check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(broken),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "$.services.worker" in result.stdout
    assert "$.services.web" in result.stdout


def test_docker_compose_stack_seeds_the_demo_runs_beat_checks_health_and_keeps_its_key():
    services = _compose()["services"]
    init = services["init"]
    script = init["entrypoint"][-1]
    assert "seed_demo --tokens" in script
    assert "migrate" in script
    # The key is generated only when the volume has none, into the volume shared by all.
    assert "test -s /data/secret_key ||" in script
    for name in ("init", "web", "worker"):
        assert "appdata:/data" in services[name]["volumes"]
        assert services[name]["environment"]["SLOTBOOKING_DATA_DIR"] == "/data"
    for name in ("web", "worker"):
        assert "DJANGO_SECRET_KEY" in " ".join(services[name]["entrypoint"])
        assert services[name]["depends_on"]["init"] == {
            "condition": "service_completed_successfully"
        }
    assert "--with-beat" in services["worker"]["command"]
    assert "/api/health" in " ".join(services["web"]["healthcheck"]["test"])
    assert "appdata" in _compose()["volumes"]
