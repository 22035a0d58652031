"""User endpoints over HTTP (SPEC §3.2): registration, listing, the caller, token rotation."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from accounts.models import ApiToken, User
from accounts.tests.factories import UserFactory
from core.db.instants import now_ms
from slotbooking.tests.envelopes import INSTANT, assert_error, assert_invalid

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r"^sb_[A-Za-z0-9_-]{43}$")
FULL_KEYS = ["id", "email", "name", "roles", "timezone", "isStaff", "createdAt", "updatedAt"]
PUBLIC_KEYS = {"id", "name", "roles", "timezone", "createdAt", "updatedAt"}


def staff_user(**fields) -> User:
    return UserFactory.create(is_staff=True, **fields)


# POST /api/users ---------------------------------------------------------------------------------
def test_registering_answers_201_with_the_full_user_and_a_token_that_works(api):
    response = api.post_json(
        "/api/users",
        {
            "email": "Alice@Example.com",
            "name": "  Alice Host ",
            "roles": ["HOST", "GUEST"],
            "timezone": "Europe/Berlin",
        },
    )

    assert response.status_code == 201, response.content
    data = response.json()["data"]
    assert list(data) == [*FULL_KEYS, "apiToken"]
    assert data["email"] == "Alice@Example.com"
    assert data["name"] == "Alice Host"
    assert data["roles"] == ["HOST", "GUEST"]
    assert data["timezone"] == "Europe/Berlin"
    assert data["isStaff"] is False
    assert INSTANT.match(data["createdAt"])
    assert TOKEN.match(data["apiToken"])
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {data['apiToken']}")
    me = api.get("/api/users/me")
    assert me.json()["data"]["id"] == data["id"]
    # Stored only as a hash.
    assert not ApiToken.objects.filter(token_hash=data["apiToken"]).exists()


def test_registering_defaults_to_guest_in_utc(api):
    response = api.post_json("/api/users", {"email": "bob@example.com", "name": "Bob"})

    data = response.json()["data"]
    assert data["roles"] == ["GUEST"]
    assert data["timezone"] == "UTC"


def test_registering_drops_duplicate_roles_keeping_first_seen_order(api):
    response = api.post_json(
        "/api/users", {"email": "c@example.com", "name": "C", "roles": ["GUEST", "HOST", "GUEST"]}
    )

    assert response.json()["data"]["roles"] == ["GUEST", "HOST"]


def test_registering_ignores_is_staff_and_id(api):
    response = api.post_json(
        "/api/users",
        {
            "email": "d@example.com",
            "name": "D",
            "isStaff": True,
            "id": "00000000-0000-4000-8000-000000000000",
        },
    )

    data = response.json()["data"]
    assert data["isStaff"] is False
    assert data["id"] != "00000000-0000-4000-8000-000000000000"
    assert User.objects.get(pk=data["id"]).is_staff is False


def test_registering_a_taken_email_in_another_case_answers_409_email_taken(api):
    UserFactory.create(email="taken@example.com")

    response = api.post_json("/api/users", {"email": "TAKEN@example.COM", "name": "X"})

    assert_error(response, 409, "CONFLICT", "EMAIL_TAKEN", "A user with this email already exists")
    assert User.objects.count() == 1


def test_registering_ignores_credentials_while_registration_is_open(api):
    api.credentials(HTTP_AUTHORIZATION="Bearer nope", HTTP_X_USER_ID="nope")

    response = api.post_json("/api/users", {"email": "e@example.com", "name": "E"})

    assert response.status_code == 201


def test_registering_without_fields_answers_required_for_email_and_name(api):
    response = api.post_json("/api/users", {})

    assert_invalid(
        response,
        [{"path": "email", "message": "Required"}, {"path": "name", "message": "Required"}],
    )


def test_registering_with_every_field_invalid_lists_them_in_order(api):
    response = api.post_json(
        "/api/users", {"email": "nope", "name": "   ", "roles": [], "timezone": "Mars/Base"}
    )

    assert_invalid(
        response,
        [
            {"path": "email", "message": "Invalid email format"},
            {"path": "name", "message": "Name is required"},
            {"path": "roles", "message": "At least one role is required"},
            {"path": "timezone", "message": "Invalid time zone"},
        ],
    )


@pytest.mark.parametrize(
    ("field", "value", "path", "message"),
    [
        ("email", 5, "email", "Expected string, received number"),
        ("email", None, "email", "Expected string, received null"),
        ("email", "a@b@example.com", "email", "Invalid email format"),
        ("email", "a" * 300 + "@example.com", "email", "Email is too long"),
        ("email", "a@" + ".".join(["b" * 60] * 5) + ".com", "email", "Email is too long"),
        ("name", "n" * 101, "name", "Name is too long"),
        ("name", ["x"], "name", "Expected string, received array"),
        ("name", "bad\u0000name", "name", "Invalid characters in string"),
        ("roles", None, "roles", "Expected array, received null"),
        ("roles", "HOST", "roles", "Expected array, received string"),
        (
            "roles",
            ["HOST", "ADMIN"],
            "roles.1",
            "Invalid enum value. Expected 'HOST' | 'GUEST', received 'ADMIN'",
        ),
        ("roles", [1], "roles.0", "Expected 'HOST' | 'GUEST', received number"),
        ("timezone", 1, "timezone", "Expected string, received number"),
        ("timezone", "utc", "timezone", "Invalid time zone"),
    ],
)
def test_registering_with_an_invalid_field_answers_its_exact_message(
    api, field, value, path, message
):
    body = {"email": "f@example.com", "name": "F", field: value}

    response = api.post_json("/api/users", body)

    assert_invalid(response, [{"path": path, "message": message}])


def test_registering_reports_every_bad_role(api):
    response = api.post_json(
        "/api/users", {"email": "g@example.com", "name": "G", "roles": ["X", "HOST", "Y"]}
    )

    assert_invalid(
        response,
        [
            {
                "path": "roles.0",
                "message": "Invalid enum value. Expected 'HOST' | 'GUEST', received 'X'",
            },
            {
                "path": "roles.2",
                "message": "Invalid enum value. Expected 'HOST' | 'GUEST', received 'Y'",
            },
        ],
    )


def test_registering_with_a_100_character_name_is_accepted(api):
    response = api.post_json("/api/users", {"email": "h@example.com", "name": "n" * 100})

    assert response.status_code == 201


def test_registering_with_a_form_encoded_body_reads_roles_as_an_array(api):
    response = api.generic(
        "POST",
        "/api/users",
        "email=i%40example.com&name=Ivy&roles[]=HOST&roles[]=GUEST&timezone=Europe%2FParis",
        "application/x-www-form-urlencoded",
    )

    assert response.status_code == 201, response.content
    assert response.json()["data"]["roles"] == ["HOST", "GUEST"]


def test_registering_with_a_form_encoded_empty_role_answers_the_enum_message(api):
    response = api.generic(
        "POST",
        "/api/users",
        "email=j%40example.com&name=J&roles[]=",
        "application/x-www-form-urlencoded",
    )

    assert_invalid(
        response,
        [
            {
                "path": "roles.0",
                "message": "Invalid enum value. Expected 'HOST' | 'GUEST', received ''",
            }
        ],
    )


def test_registering_with_a_form_encoded_single_role_is_a_string_not_an_array(api):
    response = api.generic(
        "POST",
        "/api/users",
        "email=k%40example.com&name=K&roles=HOST",
        "application/x-www-form-urlencoded",
    )

    assert_invalid(response, [{"path": "roles", "message": "Expected array, received string"}])


# Closed registration -----------------------------------------------------------------------------
def test_closed_registration_needs_credentials(api, settings):
    settings.AUTH_OPEN_REGISTRATION = False

    response = api.post_json("/api/users", {"email": "l@example.com", "name": "L"})

    assert_error(response, 401, "UNAUTHORIZED", "MISSING_CREDENTIALS", "Missing x-user-id header")


def test_closed_registration_refuses_non_staff_before_validation(api, guest, settings):
    settings.AUTH_OPEN_REGISTRATION = False

    response = api.as_user(guest).post_json("/api/users", {"email": "nope"})

    assert_error(response, 403, "FORBIDDEN", "NOT_STAFF", "Staff access required")


def test_closed_registration_refuses_staff_by_header(api, settings):
    settings.AUTH_OPEN_REGISTRATION = False

    response = api.as_user(staff_user()).post_json(
        "/api/users", {"email": "m@example.com", "name": "M"}
    )

    assert_error(
        response, 403, "FORBIDDEN", "STAFF_TOKEN_REQUIRED", "Staff access requires an API token"
    )


def test_closed_registration_lets_staff_with_a_token_register_users(api, settings):
    settings.AUTH_OPEN_REGISTRATION = False

    response = api.as_user(staff_user(), token=True).post_json(
        "/api/users", {"email": "n@example.com", "name": "N"}
    )

    assert response.status_code == 201
    assert response.json()["data"]["isStaff"] is False


# GET /api/users ----------------------------------------------------------------------------------
def test_listing_users_as_a_non_staff_user_answers_403_not_staff(api, guest):
    response = api.as_user(guest).get("/api/users", {"page": "0"})

    assert_error(response, 403, "FORBIDDEN", "NOT_STAFF", "Staff access required")


def test_listing_users_as_staff_by_header_answers_403_staff_token_required(api):
    response = api.as_user(staff_user()).get("/api/users")

    assert_error(
        response, 403, "FORBIDDEN", "STAFF_TOKEN_REQUIRED", "Staff access requires an API token"
    )


def test_listing_users_as_staff_by_header_works_when_tokens_are_not_required(api, settings):
    settings.AUTH_STAFF_REQUIRES_TOKEN = False

    response = api.as_user(staff_user()).get("/api/users")

    assert response.status_code == 200


def test_listing_users_as_staff_with_a_token_pages_full_users_newest_first(api):
    staff = staff_user()
    users = [UserFactory.create() for _ in range(3)]
    for age, user in enumerate(reversed(users), start=1):
        User.objects.filter(pk=user.pk).update(created_at=now_ms() - timedelta(hours=age))
    User.objects.filter(pk=staff.pk).update(created_at=now_ms() - timedelta(days=1))

    first = api.as_user(staff, token=True).get("/api/users", {"limit": "2"})
    second = api.get("/api/users", {"limit": "2", "page": "2"})

    assert first.status_code == 200
    assert [u["id"] for u in first.json()["data"]] == [str(users[2].pk), str(users[1].pk)]
    assert first.json()["meta"] == {"page": 1, "limit": 2, "total": 4}
    assert [u["id"] for u in second.json()["data"]] == [str(users[0].pk), str(staff.pk)]
    assert list(first.json()["data"][0]) == FULL_KEYS


def test_listing_users_validates_pagination_after_the_staff_check(api):
    response = api.as_user(staff_user(), token=True).get("/api/users", {"limit": "101"})

    assert_invalid(
        response, [{"path": "limit", "message": "Number must be less than or equal to 100"}]
    )


# GET /api/users/me and /api/users/{id} -----------------------------------------------------------
def test_me_answers_the_caller_in_full(api, guest):
    response = api.as_user(guest).get("/api/users/me")

    data = response.json()["data"]
    assert list(data) == FULL_KEYS
    assert data["id"] == str(guest.pk)
    assert data["email"] == guest.email


def test_a_user_sees_themself_in_full_and_others_in_public_form(api, guest):
    other = UserFactory.create()

    own = api.as_user(guest).get(f"/api/users/{guest.pk}")
    theirs = api.get(f"/api/users/{other.pk}")

    assert list(own.json()["data"]) == FULL_KEYS
    assert set(theirs.json()["data"]) == PUBLIC_KEYS
    assert theirs.json()["data"]["id"] == str(other.pk)


def test_staff_with_a_token_see_others_in_full_but_not_by_header(api, guest):
    staff = staff_user()

    by_token = api.as_user(staff, token=True).get(f"/api/users/{guest.pk}")
    by_header = api.as_user(staff).get(f"/api/users/{guest.pk}")

    assert list(by_token.json()["data"]) == FULL_KEYS
    assert set(by_header.json()["data"]) == PUBLIC_KEYS


@pytest.mark.parametrize("user_id", ["nope", "00000000-0000-4000-8000-000000000000"])
def test_unknown_or_non_uuid_user_answers_404_user_not_found(api, guest, user_id):
    response = api.as_user(guest).get(f"/api/users/{user_id}")

    assert_error(response, 404, "NOT_FOUND", "USER_NOT_FOUND", "User not found")


def test_user_by_upper_case_id_is_found(api, guest):
    response = api.as_user(guest).get(f"/api/users/{str(guest.pk).upper()}")

    assert response.json()["data"]["id"] == str(guest.pk)


def test_user_endpoints_require_authentication(api, guest):
    for method, path in [
        ("get", "/api/users"),
        ("get", "/api/users/me"),
        ("post", "/api/users/me/token"),
        ("get", f"/api/users/{guest.pk}"),
    ]:
        response = getattr(api, method)(path)
        assert_error(
            response, 401, "UNAUTHORIZED", "MISSING_CREDENTIALS", "Missing x-user-id header"
        )


# POST /api/users/me/token ------------------------------------------------------------------------
def test_rotating_the_token_invalidates_the_old_one_at_once(api, guest):
    api.as_user(guest, token=True)
    old = api._credentials["HTTP_AUTHORIZATION"]

    response = api.post("/api/users/me/token")

    assert response.status_code == 200
    data = response.json()["data"]
    assert list(data) == ["apiToken", "createdAt"]
    assert TOKEN.match(data["apiToken"])
    assert INSTANT.match(data["createdAt"])
    api.credentials(HTTP_AUTHORIZATION=old)
    assert_error(
        api.get("/api/users/me"), 401, "UNAUTHORIZED", "INVALID_TOKEN", "Invalid API token"
    )
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {data['apiToken']}")
    assert api.get("/api/users/me").json()["data"]["id"] == str(guest.pk)


def test_rotating_creates_a_token_for_a_user_who_had_none(api, guest):
    assert not ApiToken.objects.filter(user=guest).exists()

    response = api.as_user(guest).post("/api/users/me/token")

    assert response.status_code == 200
    assert ApiToken.objects.filter(user=guest).count() == 1


def test_staff_rotating_by_header_answers_403_staff_token_required(api):
    staff = staff_user()
    token = ApiToken.objects.filter(user=staff).first()

    response = api.as_user(staff).post("/api/users/me/token")

    assert_error(
        response, 403, "FORBIDDEN", "STAFF_TOKEN_REQUIRED", "Staff access requires an API token"
    )
    assert ApiToken.objects.filter(user=staff).first() == token


def test_staff_rotating_with_a_token_or_without_the_requirement_succeeds(api, settings):
    staff = staff_user()

    assert api.as_user(staff, token=True).post("/api/users/me/token").status_code == 200
    settings.AUTH_STAFF_REQUIRES_TOKEN = False
    assert api.as_user(staff).post("/api/users/me/token").status_code == 200
