from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import ApiToken, User
from accounts.tests.factories import HostFactory, UserFactory
from slotbooking.tests.admin import queries_of, staff_client
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:accounts_user_changelist")


def test_user_changelist_query_count_does_not_grow_with_rows(client, django_assert_max_num_queries):
    client, _ = staff_client(client)
    one = queries_of(client, CHANGELIST)
    UserFactory.create_batch(15)
    with django_assert_max_num_queries(one):
        response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert b"user14@example.com" in response.content or b"@example.com" in response.content


def test_user_changelist_filters_by_role_and_searches_by_id(client):
    client, _ = staff_client(client)
    host = HostFactory.create(name="Hostess")
    UserFactory.create(name="Plain Guest")
    response = client.get(CHANGELIST, {"role": "HOST"})
    assert b"Hostess" in response.content
    assert b"Plain Guest" not in response.content
    response = client.get(CHANGELIST, {"q": str(host.pk)})
    assert list(response.context["cl"].result_list) == [host]


def test_adding_a_user_validates_like_the_api_and_shows_the_token_once(client):
    client, _ = staff_client(client)
    url = reverse("admin:accounts_user_add")
    form = {"email": "not-an-email", "name": "X", "roles": ["HOST"], "timezone": "Mars/Base"}
    response = client.post(url, form)
    assert response.status_code == 200
    assert not User.objects.filter(email="not-an-email").exists()
    assert b"Invalid email format" in response.content
    assert b"Invalid time zone" in response.content

    form = {"email": "new@example.com", "name": " New ", "roles": ["HOST"], "timezone": "UTC"}
    response = client.post(url, form, follow=True)
    user = User.objects.get(email="new@example.com")
    assert user.name == "New"
    assert user.roles == ["HOST"]
    assert ApiToken.objects.filter(user=user).exists()
    assert any("shown only once" in str(m) for m in response.context["messages"])


def test_adding_a_user_with_a_taken_email_is_refused_with_a_message(client):
    client, _ = staff_client(client)
    UserFactory.create(email="taken@example.com")
    form = {"email": "TAKEN@example.com", "name": "X", "roles": ["GUEST"], "timezone": "UTC"}
    response = client.post(reverse("admin:accounts_user_add"), form)
    assert response.status_code == 200
    assert b"A user with this email already exists" in response.content
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1


def test_rotate_token_and_deactivate_actions(client):
    client, _ = staff_client(client)
    user = UserFactory.create()
    response = client.post(
        CHANGELIST, {"action": "rotate_api_token", "_selected_action": [user.pk]}, follow=True
    )
    texts = [str(m) for m in response.context["messages"]]
    assert any(user.email in text for text in texts)
    assert any("shown only once" in text for text in texts)
    token = ApiToken.objects.get(user=user)
    assert any(token.prefix in text for text in texts)

    client.post(CHANGELIST, {"action": "deactivate", "_selected_action": [user.pk]})
    user.refresh_from_db()
    assert user.is_active is False


def test_deleting_a_user_with_slots_is_refused_cleanly(client):
    client, _ = staff_client(client)
    slot = SlotFactory.create()
    url = reverse("admin:accounts_user_delete", args=[slot.host.pk])
    response = client.post(url, {"post": "yes"})
    assert response.status_code == 200  # Django's "cannot delete: protected objects" page
    assert b"Cannot delete user" in response.content
    # Refused before anything is deleted: the slots are protected (and deleted only via
    # slot_delete, so not deletable here either).
    assert User.objects.filter(pk=slot.host.pk).exists()
