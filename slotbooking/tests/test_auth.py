"""Resolving the caller step by step (SPEC §1.8) and staff privileges (SPEC §1.9)."""

from __future__ import annotations

import pytest

from accounts.tests.factories import UserFactory, token_for

pytestmark = pytest.mark.django_db

WWW_AUTHENTICATE = 'Bearer realm="slot-booking"'
ANALYTICS = "/api/admin/analytics?start_date=2026-01-01&end_date=2026-01-02"


def assert_401(response, reason, message):
    assert response.status_code == 401, response.content
    assert response.json() == {
        "success": False,
        "error": {"code": "UNAUTHORIZED", "reason": reason, "message": message},
    }
    assert response["WWW-Authenticate"] == WWW_AUTHENTICATE


def me(api, **headers):
    return api.get("/api/users/me", **headers)


# Step 1: Authorization ---------------------------------------------------------------------------
def test_a_valid_bearer_token_authenticates(api, guest):
    response = me(api, HTTP_AUTHORIZATION=f"Bearer {token_for(guest)}")

    assert response.json()["data"]["id"] == str(guest.pk)


def test_the_bearer_scheme_is_case_insensitive(api, guest):
    response = me(api, HTTP_AUTHORIZATION=f"bEaReR {token_for(guest)}")

    assert response.status_code == 200


@pytest.mark.parametrize(
    "header", ["Basic abc", "Bearer", "Bearer ", "Bearer  sb_x", "Bearer a b", "Token sb_x", " "]
)
def test_an_authorization_header_that_is_not_bearer_token_answers_malformed_authorization(
    api, guest, header
):
    response = me(api, HTTP_AUTHORIZATION=header, HTTP_X_USER_ID=str(guest.pk))

    assert_401(response, "MALFORMED_AUTHORIZATION", "Authorization header must be 'Bearer <token>'")


def test_an_unknown_token_answers_invalid_token_even_with_a_valid_user_id_header(api, guest):
    response = me(api, HTTP_AUTHORIZATION="Bearer sb_unknown", HTTP_X_USER_ID=str(guest.pk))

    assert_401(response, "INVALID_TOKEN", "Invalid API token")


def test_a_token_wins_over_the_user_id_header(api, guest):
    other = UserFactory.create()

    response = me(
        api, HTTP_AUTHORIZATION=f"Bearer {token_for(guest)}", HTTP_X_USER_ID=str(other.pk)
    )

    assert response.json()["data"]["id"] == str(guest.pk)


def test_an_inactive_users_token_answers_user_inactive(api):
    user = UserFactory.create(is_active=False)

    response = me(api, HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")

    assert_401(response, "USER_INACTIVE", "User account is disabled")


def test_an_empty_authorization_header_counts_as_absent(api, guest):
    response = me(api, HTTP_AUTHORIZATION="", HTTP_X_USER_ID=str(guest.pk))

    assert response.json()["data"]["id"] == str(guest.pk)


def test_a_token_works_when_the_user_id_header_is_disabled(api, guest, settings):
    settings.AUTH_ALLOW_USER_ID_HEADER = False

    response = me(api, HTTP_AUTHORIZATION=f"Bearer {token_for(guest)}")

    assert response.status_code == 200


# Step 2: x-user-id -------------------------------------------------------------------------------
def test_the_user_id_header_authenticates(api, guest):
    response = me(api, HTTP_X_USER_ID=str(guest.pk))

    assert response.json()["data"]["id"] == str(guest.pk)


def test_an_upper_case_user_id_is_normalised(api, guest):
    response = me(api, HTTP_X_USER_ID=str(guest.pk).upper())

    assert response.json()["data"]["id"] == str(guest.pk)


def test_a_disabled_user_id_header_answers_user_id_header_disabled(api, guest, settings):
    settings.AUTH_ALLOW_USER_ID_HEADER = False

    response = me(api, HTTP_X_USER_ID=str(guest.pk))

    assert_401(
        response,
        "USER_ID_HEADER_DISABLED",
        "The x-user-id header is not accepted by this server; use an API token",
    )


@pytest.mark.parametrize(
    "value",
    [
        "00000000-0000-4000-8000-000000000000",
        "nope",
        "{00000000-0000-4000-8000-000000000000}",
        "urn:uuid:00000000-0000-4000-8000-000000000000",
    ],
)
def test_an_unknown_or_non_uuid_user_id_answers_unknown_user(api, value):
    response = me(api, HTTP_X_USER_ID=value)

    assert_401(response, "UNKNOWN_USER", "User not found")


def test_a_user_id_with_surrounding_spaces_is_not_trimmed(api, guest):
    response = me(api, HTTP_X_USER_ID=f" {guest.pk}")

    assert_401(response, "UNKNOWN_USER", "User not found")


def test_an_inactive_user_by_header_answers_user_inactive(api):
    user = UserFactory.create(is_active=False)

    response = me(api, HTTP_X_USER_ID=str(user.pk))

    assert_401(response, "USER_INACTIVE", "User account is disabled")


# Step 3: nothing ---------------------------------------------------------------------------------
def test_no_credentials_answers_missing_x_user_id_header(api):
    assert_401(me(api), "MISSING_CREDENTIALS", "Missing x-user-id header")


def test_no_credentials_answers_missing_bearer_token_when_the_header_is_disabled(api, settings):
    settings.AUTH_ALLOW_USER_ID_HEADER = False

    assert_401(me(api), "MISSING_CREDENTIALS", "Missing bearer token")


def test_an_empty_user_id_header_counts_as_absent(api):
    assert_401(me(api, HTTP_X_USER_ID=""), "MISSING_CREDENTIALS", "Missing x-user-id header")


def test_authentication_runs_before_body_parsing_and_validation(api):
    response = api.generic("POST", "/api/bookings", b"{not json", "application/json")
    wrong_type = api.generic("POST", "/api/slots", b"x", "text/plain")

    assert_401(response, "MISSING_CREDENTIALS", "Missing x-user-id header")
    assert_401(wrong_type, "MISSING_CREDENTIALS", "Missing x-user-id header")


def test_public_endpoints_ignore_credentials_entirely(api):
    api.credentials(HTTP_AUTHORIZATION="Bearer sb_unknown", HTTP_X_USER_ID="nope")

    for path in ("/", "/api/health", "/api/schema/", "/docs", "/api/docs", "/docs/json"):
        assert api.get(path).status_code == 200, path


# Staff (SPEC §1.9) -------------------------------------------------------------------------------
def test_a_non_staff_user_on_a_staff_endpoint_answers_403_not_staff(api, guest):
    response = api.as_user(guest, token=True).get(ANALYTICS)

    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "FORBIDDEN",
        "reason": "NOT_STAFF",
        "message": "Staff access required",
    }


def test_staff_by_header_on_a_staff_endpoint_answers_403_staff_token_required(api):
    staff = UserFactory.create(is_staff=True)

    response = api.as_user(staff).get(ANALYTICS)

    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "FORBIDDEN",
        "reason": "STAFF_TOKEN_REQUIRED",
        "message": "Staff access requires an API token",
    }


def test_staff_checks_come_before_query_validation(api, guest):
    staff = UserFactory.create(is_staff=True)

    not_staff = api.as_user(guest).get("/api/admin/analytics")
    by_header = api.as_user(staff).get("/api/admin/analytics")

    assert not_staff.json()["error"]["reason"] == "NOT_STAFF"
    assert by_header.json()["error"]["reason"] == "STAFF_TOKEN_REQUIRED"


def test_staff_with_a_token_reach_a_staff_endpoint(api):
    staff = UserFactory.create(is_staff=True)

    assert api.as_user(staff, token=True).get(ANALYTICS).status_code == 200


def test_staff_by_header_are_staff_when_tokens_are_not_required(api, settings):
    settings.AUTH_STAFF_REQUIRES_TOKEN = False
    staff = UserFactory.create(is_staff=True)

    assert api.as_user(staff).get(ANALYTICS).status_code == 200


def test_an_inactive_staff_user_cannot_authenticate(api):
    staff = UserFactory.create(is_staff=True, is_active=False)

    response = api.as_user(staff, token=True).get(ANALYTICS)

    assert_401(response, "USER_INACTIVE", "User account is disabled")


def test_the_api_ignores_admin_session_cookies(api):
    staff = UserFactory.create(is_staff=True)
    api.force_login(staff)

    response = api.get("/api/users/me")

    assert_401(response, "MISSING_CREDENTIALS", "Missing x-user-id header")
