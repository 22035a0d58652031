"""seed_demo --tokens keeps the demo tokens across runs; --rotate-tokens issues new ones."""

from __future__ import annotations

import re
import stat
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import ApiToken, User
from accounts.services import api_token_rotate
from accounts.tokens import token_hash

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.SLOTBOOKING_DATA_DIR = tmp_path
    return tmp_path


def tokens(*args: str) -> dict[str, str]:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out, stderr=StringIO())
    return dict(re.findall(r"(\S+@example\.com)\s+id=\S+\s+token=(\S+)", out.getvalue()))


def works(token: str) -> bool:
    return ApiToken.objects.filter(token_hash=token_hash(token)).exists()


def test_demo_tokens_stay_the_same_across_runs_and_keep_working(data_dir):
    first = tokens("--tokens")
    second = tokens("--tokens")

    assert len(first) == 4
    assert first == second
    assert all(works(token) for token in second.values())
    store = data_dir / "demo_tokens.json"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600  # credentials: owner only


def test_rotate_tokens_issues_new_ones_and_the_next_run_keeps_those():
    first = tokens("--tokens")
    rotated = tokens("--rotate-tokens")
    after = tokens("--tokens")

    assert all(rotated[email] != first[email] for email in first)
    assert not any(works(token) for token in first.values())
    assert after == rotated
    assert all(works(token) for token in after.values())


def test_a_token_rotated_elsewhere_is_replaced_by_a_working_one_on_the_next_run():
    first = tokens("--tokens")
    alice = User.objects.get(email="host1@example.com")
    api_token_rotate(user_id=alice.pk)  # e.g. POST /api/users/me/token

    second = tokens("--tokens")

    assert second["host1@example.com"] != first["host1@example.com"]
    assert works(second["host1@example.com"])
    assert second["guest1@example.com"] == first["guest1@example.com"]


def test_a_damaged_tokens_file_is_rewritten(data_dir):
    (data_dir / "demo_tokens.json").write_text("{not json")

    issued = tokens("--tokens")

    assert all(works(token) for token in issued.values())
    assert tokens("--tokens") == issued
