"""seed_demo, create_staff and issue_api_token (SPEC §10.3, §10.5)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import ApiToken, User
from accounts.tests.factories import UserFactory
from accounts.tokens import token_hash
from slots.models import Slot, SlotStatus

pytestmark = pytest.mark.django_db


def run(*args: str, **options) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


def slot_times(email: str) -> list[tuple[datetime, datetime]]:
    slots = Slot.objects.filter(host__email=email).order_by("start_time")
    return [(s.start_time, s.end_time) for s in slots]


# seed_demo ---------------------------------------------------------------------------------------
def test_seed_demo_creates_exactly_the_demo_users_and_slots():
    run("seed_demo")

    users = {u.email: u for u in User.objects.all()}
    assert {e: (u.name, u.roles) for e, u in users.items()} == {
        "host1@example.com": ("Alice Host", ["HOST", "GUEST"]),
        "host2@example.com": ("Bob Host", ["HOST"]),
        "guest1@example.com": ("Charlie Guest", ["GUEST"]),
        "guest2@example.com": ("Diana Guest", ["GUEST"]),
    }
    today = datetime.now(UTC).date()

    def at(day: int, hour: int) -> tuple[datetime, datetime]:
        start = datetime.combine(today + timedelta(days=day), time(hour), tzinfo=UTC)
        return start, start + timedelta(hours=1)

    assert slot_times("host1@example.com") == [
        at(day, hour) for day in range(1, 8) for hour in (9, 14)
    ]
    assert slot_times("host2@example.com") == [
        (datetime(2026, 1, 1, 10, tzinfo=UTC), datetime(2026, 1, 1, 11, tzinfo=UTC)),
        *[at(day, 18) for day in range(1, 6)],
    ]
    assert set(Slot.objects.values_list("status", flat=True)) == {SlotStatus.AVAILABLE}
    assert Slot.objects.count() == 20
    assert not Slot.objects.filter(host__email__startswith="guest").exists()


def test_seed_demo_twice_creates_no_duplicates_and_does_not_fail():
    run("seed_demo")
    before = sorted(Slot.objects.values_list("id", flat=True))

    second = run("seed_demo")

    assert User.objects.count() == 4
    assert sorted(Slot.objects.values_list("id", flat=True)) == before
    assert "0 users and 0 slots created" in second


def test_seed_demo_leaves_an_existing_user_as_it_is_matching_email_case_insensitively():
    existing = UserFactory.create(email="HOST1@example.com", name="Someone Else", roles=["GUEST"])

    run("seed_demo")

    existing.refresh_from_db()
    assert existing.name == "Someone Else"
    assert User.objects.count() == 4


def test_seed_demo_with_tokens_prints_working_tokens():
    output = run("seed_demo", "--tokens")

    tokens = [part.split("=", 1)[1] for part in output.split() if part.startswith("token=")]
    assert len(tokens) == 4
    for token in tokens:
        assert ApiToken.objects.filter(token_hash=token_hash(token)).exists()


# create_staff ------------------------------------------------------------------------------------
def test_create_staff_creates_a_staff_user_with_a_working_token(api):
    output = run("create_staff", "--email", "ops@example.com", "--name", "Ops")

    user = User.objects.get(email="ops@example.com")
    assert user.is_staff is True
    assert user.is_superuser is False
    assert str(user.pk) in output
    token = output.strip().rsplit(" ", 1)[-1]
    response = api.get("/api/users", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200


def test_create_staff_promotes_an_existing_user_found_in_any_case():
    user = UserFactory.create(email="Promote@example.com")

    run("create_staff", "--email", "promote@EXAMPLE.com", "--name", "X", "--superuser")

    user.refresh_from_db()
    assert user.is_staff is True
    assert user.is_superuser is True
    assert User.objects.count() == 1


def test_create_staff_reads_the_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("SB_TEST_ADMIN_PASSWORD", "a-long-enough-password")

    run(
        "create_staff",
        "--email",
        "pw@example.com",
        "--name",
        "Pw",
        "--password-from-env",
        "SB_TEST_ADMIN_PASSWORD",
    )

    assert User.objects.get(email="pw@example.com").check_password("a-long-enough-password")


def test_create_staff_with_an_unset_password_variable_is_a_usage_error():
    with pytest.raises(CommandError) as caught:
        run(
            "create_staff",
            "--email",
            "x@example.com",
            "--name",
            "X",
            "--password-from-env",
            "SB_TEST_SURELY_UNSET",
        )

    assert caught.value.returncode == 2
    assert not User.objects.exists()


# issue_api_token ---------------------------------------------------------------------------------
def test_issue_api_token_rotates_the_token_and_the_old_one_stops_working(api):
    user = UserFactory.create(email="rot@example.com")
    old = run("issue_api_token", "--email", "rot@example.com").strip()

    new = run("issue_api_token", "--email", "ROT@example.com").strip()

    assert new != old
    assert new.startswith("sb_")
    assert api.get("/api/users/me", HTTP_AUTHORIZATION=f"Bearer {old}").status_code == 401
    me = api.get("/api/users/me", HTTP_AUTHORIZATION=f"Bearer {new}")
    assert me.json()["data"]["id"] == str(user.pk)


def test_issue_api_token_for_an_unknown_email_is_a_business_failure():
    with pytest.raises(CommandError) as caught:
        run("issue_api_token", "--email", "nobody@example.com")

    assert caught.value.returncode == 1
