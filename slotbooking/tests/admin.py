"""Helpers of the admin tests: a signed-in superuser client and query counting."""

from __future__ import annotations

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from accounts.services import staff_create

STAFF_PASSWORD = "correct horse battery staple"  # noqa: S105  # test-only credential


def staff_user(email: str = "staff@example.com") -> User:
    user, _ = staff_create(email=email, name="Staff", superuser=True, password=STAFF_PASSWORD)
    return user


def staff_client(client: Client, email: str = "staff@example.com") -> tuple[Client, User]:
    user = staff_user(email)
    client.force_login(user)
    return client, user


def queries_of(client: Client, url: str) -> int:
    """The number of SQL queries one GET of `url` runs (and asserts it is a 200)."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.status_code
    return len(captured.captured_queries)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []
