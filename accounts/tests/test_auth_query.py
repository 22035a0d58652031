"""Authentication reads the caller in one indexed query, without the columns no request reads."""

from __future__ import annotations

from datetime import timedelta

import pytest

from accounts.auth import UNREAD_USER_FIELDS, _authenticate_token, _authenticate_user_id
from accounts.models import ApiToken, User
from accounts.tests.factories import HostFactory, token_for
from core.db.instants import now_ms

pytestmark = pytest.mark.django_db

READ_FIELDS = [f.attname for f in User._meta.concrete_fields if f.attname not in UNREAD_USER_FIELDS]


def assert_same_user(found: User, expected: User) -> None:
    assert isinstance(found, User)
    assert found.get_deferred_fields() == set(UNREAD_USER_FIELDS)
    assert {name: getattr(found, name) for name in READ_FIELDS} == {
        name: getattr(expected, name) for name in READ_FIELDS
    }
    assert found._state.adding is False
    assert found._state.db == "default"


def test_the_user_id_header_reads_the_user_in_one_query(django_assert_num_queries):
    user = HostFactory.create(name="Zoë", timezone="Asia/Kathmandu", is_staff=True)

    with django_assert_num_queries(1):
        found = _authenticate_user_id(str(user.pk))

    assert_same_user(found, User.objects.get(pk=user.pk))


def test_a_token_reads_its_user_in_one_query_when_it_was_used_within_the_minute(
    django_assert_num_queries,
):
    user = HostFactory.create(name="Ånne")
    token = token_for(user)
    ApiToken.objects.filter(user=user).update(last_used_at=now_ms() - timedelta(seconds=5))

    with django_assert_num_queries(1):
        found = _authenticate_token(f"Bearer {token}")

    assert_same_user(found, User.objects.get(pk=user.pk))


def test_a_token_unused_for_a_minute_also_records_its_use(django_assert_num_queries):
    user = HostFactory.create()
    token = token_for(user)
    stale = now_ms() - timedelta(minutes=2)
    ApiToken.objects.filter(user=user).update(last_used_at=stale)

    with django_assert_num_queries(2):
        found = _authenticate_token(f"Bearer {token}")

    assert found.pk == user.pk
    last_used_at = ApiToken.objects.get(user=user).last_used_at
    assert last_used_at is not None
    assert last_used_at > stale


def test_a_deferred_column_still_loads_on_demand():
    user = HostFactory.create()

    found = _authenticate_user_id(str(user.pk))

    assert found.password == User.objects.get(pk=user.pk).password
