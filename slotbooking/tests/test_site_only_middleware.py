"""API requests skip the admin's middleware (sessions, CSRF, auth, messages) and keep the rest."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ORIGIN = "https://app.example.com"


def test_an_api_answer_keeps_the_cors_security_and_request_headers_and_skips_the_session():
    user = UserFactory.create()
    client = Client(enforce_csrf_checks=True)
    client.cookies["sessionid"] = "whatever"

    response = client.get("/api/users/me", headers={"x-user-id": str(user.pk), "Origin": ORIGIN})

    assert response.status_code == 200, response.content
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "X-Request-Id" in response["Access-Control-Expose-Headers"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Content-Length"] == str(len(response.content))
    assert response["X-Request-Id"]
    assert not response.cookies  # no session or CSRF cookie from an API answer
    assert "Vary" not in response or "Cookie" not in response["Vary"]
    request = response.wsgi_request
    assert not hasattr(request, "session")
    assert not hasattr(request, "_messages")
    assert not hasattr(request, "auser")  # AuthenticationMiddleware's; DRF sets request.user


def test_an_api_preflight_is_answered_by_cors():
    response = Client().options(
        "/api/bookings",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-user-id,idempotency-key",
        },
    )

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    allowed = response["Access-Control-Allow-Headers"]
    assert {"content-type", "x-user-id", "idempotency-key"} <= set(allowed.split(", "))


def test_an_unsafe_api_request_needs_no_csrf_token():
    user = UserFactory.create()
    client = Client(enforce_csrf_checks=True)
    client.cookies["csrftoken"] = "x" * 32

    response = client.post(
        "/api/users/me/token", headers={"x-user-id": str(user.pk)}, content_type="application/json"
    )

    assert response.status_code == 200, response.content


def test_the_admin_still_has_sessions_csrf_the_user_and_messages():
    client = Client(enforce_csrf_checks=True)

    page = client.get("/admin/login/")

    assert page.status_code == 200
    assert "csrftoken" in page.cookies
    request = page.wsgi_request
    assert hasattr(request, "session")
    assert hasattr(request, "user")
    assert hasattr(request, "_messages")
    assert page["X-Frame-Options"] == "DENY"

    refused = client.post("/admin/login/", data={"username": "a", "password": "b"})
    assert refused.status_code == 403
    assert refused.json()["error"]["reason"] == "CSRF_FAILED"

    token = page.cookies["csrftoken"].value
    staff = UserFactory.create(is_staff=True, email="staff@example.com")
    staff.set_password("a-long-enough-password")
    staff.save()
    signed_in = client.post(
        "/admin/login/?next=/admin/",
        data={
            "username": "staff@example.com",
            "password": "a-long-enough-password",
            "csrfmiddlewaretoken": token,
            "next": "/admin/",
        },
    )
    assert signed_in.status_code == 302, signed_in.content
    assert "sessionid" in signed_in.cookies
    assert client.get("/admin/").status_code == 200
