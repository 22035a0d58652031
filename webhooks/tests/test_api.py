"""The webhook endpoints: every rule and reason of POST/GET/DELETE /api/webhooks (SPEC §12.7)."""

from __future__ import annotations

import pytest

from accounts.tests.factories import UserFactory
from slotbooking.tests.envelopes import INSTANT, assert_error, assert_invalid
from webhooks.models import WebhookEndpoint
from webhooks.services import webhook_endpoint_create

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:9/hook"


@pytest.fixture(autouse=True)
def loopback_allowed(settings):
    # Most tests register loopback URLs; the tests of the address rule turn this off again.
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True


def create(client, **body):
    return client.post_json("/api/webhooks", {"url": URL, "events": ["booking.created"], **body})


def test_registering_answers_201_with_the_endpoint_and_its_secret_shown_once(api_as, guest):
    client = api_as(guest)

    response = create(client, description="CRM", events=["booking.created", "slot.created"])

    assert response.status_code == 201, response.content
    data = response.json()["data"]
    assert set(data) == {
        "id", "url", "events", "allEvents", "description", "isActive", "deactivatedAt",
        "createdAt", "secret",
    }  # fmt: skip
    assert data["url"] == URL
    assert data["events"] == ["booking.created", "slot.created"]
    assert (data["allEvents"], data["isActive"], data["deactivatedAt"]) == (False, True, None)
    assert data["description"] == "CRM"
    assert INSTANT.match(data["createdAt"])
    assert data["secret"].startswith("whsec_")
    assert len(data["secret"]) > 40
    shown = client.get(f"/api/webhooks/{data['id']}").json()["data"]
    listed = client.get("/api/webhooks").json()["data"]
    assert "secret" not in shown
    assert "secret" not in listed[0]
    assert shown == {k: v for k, v in data.items() if k != "secret"}


def test_duplicate_event_types_are_dropped_in_first_seen_order(api_as, guest):
    response = create(api_as(guest), events=["slot.created", "booking.created", "slot.created"])

    assert response.json()["data"]["events"] == ["slot.created", "booking.created"]


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({"events": ["booking.created"]}, [{"path": "url", "message": "Required"}]),
        (
            {"url": 5, "events": []},
            [{"path": "url", "message": "Expected string, received number"}],
        ),
        (
            {"url": "ftp://example.com/x", "events": ["slot.created"]},
            [{"path": "url", "message": "URL must use http or https"}],
        ),
        (
            {"url": "not a url", "events": ["slot.created"]},
            [{"path": "url", "message": "URL must use http or https"}],
        ),
        (
            {"url": "http://", "events": ["slot.created"]},
            [{"path": "url", "message": "Invalid URL"}],
        ),
        (
            {"url": "http://user:pw@example.com/", "events": ["slot.created"]},
            [{"path": "url", "message": "URL must not contain credentials"}],
        ),
        (
            {"url": "https://example.com/" + "a" * 1990, "events": ["slot.created"]},
            [{"path": "url", "message": "URL must be at most 2000 characters"}],
        ),
        (
            {"url": URL, "events": ["booking.created", "booking.exploded"]},
            [
                {
                    "path": "events.1",
                    "message": "Invalid enum value. Expected 'booking.created' | "
                    "'booking.cancelled' | 'booking.rescheduled' | 'slot.created' | "
                    "'slot.cancelled' | 'waitlist.offered', received 'booking.exploded'",
                }
            ],
        ),
        (
            {"url": URL, "events": "booking.created"},
            [{"path": "events", "message": "Expected array, received string"}],
        ),
        (
            {"url": URL, "events": []},
            [
                {
                    "path": "events",
                    "message": "At least one event is required, unless allEvents is true",
                }
            ],
        ),
        (
            {"url": URL, "events": ["slot.created"], "allEvents": "yes"},
            [{"path": "allEvents", "message": "Expected boolean, received string"}],
        ),
        (
            {"url": URL, "events": ["slot.created"], "description": "x" * 501},
            [{"path": "description", "message": "Description must be at most 500 characters"}],
        ),
    ],
)
def test_invalid_registrations_answer_400_with_each_failing_field(api_as, guest, body, details):
    response = api_as(guest).post_json("/api/webhooks", body)

    assert_invalid(response, details)
    assert not WebhookEndpoint.objects.exists()


def test_a_body_that_is_not_an_object_fails_as_a_whole(api_as, guest):
    response = api_as(guest).post_json("/api/webhooks", ["x"])

    assert_invalid(response, [{"path": "", "message": "Expected object, received array"}])


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8080/hook",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://172.16.5.4/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://100.64.0.1/",
    ],
)
def test_a_private_loopback_or_link_local_target_is_refused_at_creation(
    api_as, guest, settings, url
):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False

    response = api_as(guest).post_json("/api/webhooks", {"url": url, "events": ["slot.created"]})

    assert response.status_code == 400, response.content
    detail = response.json()["error"]["details"][0]
    assert detail["path"] == "url"
    assert detail["message"].endswith("a private, loopback or link-local address")
    assert not WebhookEndpoint.objects.exists()


def test_a_public_address_is_accepted_with_private_addresses_refused(api_as, guest, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False

    response = api_as(guest).post_json(
        "/api/webhooks", {"url": "https://93.184.215.14/hook", "events": ["slot.created"]}
    )

    assert response.status_code == 201, response.content


def test_a_host_that_does_not_resolve_is_refused_at_creation(api_as, guest):
    response = api_as(guest).post_json(
        "/api/webhooks", {"url": "https://no-such-host.invalid/x", "events": ["slot.created"]}
    )

    assert_invalid(
        response, [{"path": "url", "message": "Host no-such-host.invalid could not be resolved"}]
    )


def test_all_events_needs_staff_privileges(api_as, guest):
    staff = UserFactory.create(is_staff=True)

    refused = create(api_as(guest), allEvents=True)
    by_header = create(api_as(staff), allEvents=True)  # staff by x-user-id does not count
    accepted = create(api_as(staff, token=True), allEvents=True, events=[])

    assert_error(refused, 403, "FORBIDDEN", "NOT_STAFF", "Staff access required")
    assert_error(by_header, 403, "FORBIDDEN", "NOT_STAFF", "Staff access required")
    assert accepted.status_code == 201, accepted.content
    assert accepted.json()["data"]["allEvents"] is True


def test_validation_comes_before_the_staff_check(api_as, guest):
    response = api_as(guest).post_json("/api/webhooks", {"url": 1, "allEvents": True})

    assert_invalid(response, [{"path": "url", "message": "Expected string, received number"}])


def test_the_eleventh_endpoint_of_a_user_answers_409_webhook_limit_reached(api_as, guest):
    for _ in range(10):
        webhook_endpoint_create(owner_id=guest.pk, url=URL, events=["slot.created"])

    response = create(api_as(guest))

    assert_error(
        response, 409, "CONFLICT", "WEBHOOK_LIMIT_REACHED", "You can register at most 10 webhooks"
    )
    assert WebhookEndpoint.objects.filter(owner=guest).count() == 10
    other = UserFactory.create()
    assert create(api_as(other)).status_code == 201  # the limit is per user


def test_the_list_shows_only_the_callers_endpoints_newest_first_and_paginated(api_as, guest):
    other = UserFactory.create()
    mine = [
        webhook_endpoint_create(owner_id=guest.pk, url=f"{URL}/{i}", events=["slot.created"])
        for i in range(3)
    ]
    webhook_endpoint_create(owner_id=other.pk, url=URL, events=["slot.created"])
    client = api_as(guest)

    first = client.get("/api/webhooks?limit=2").json()
    second = client.get("/api/webhooks?limit=2&page=2").json()

    ids = [item["id"] for item in first["data"] + second["data"]]
    assert ids == [
        str(e.pk) for e in sorted(mine, key=lambda e: (e.created_at, e.pk), reverse=True)
    ]
    assert first["meta"] == {"page": 1, "limit": 2, "total": 3}
    assert_invalid(
        client.get("/api/webhooks?limit=101"),
        [{"path": "limit", "message": "Number must be less than or equal to 100"}],
    )


@pytest.mark.parametrize("suffix", ["", "/deliveries"])
def test_someone_elses_unknown_or_malformed_webhook_id_answers_404(api_as, guest, suffix):
    other = UserFactory.create()
    theirs = webhook_endpoint_create(owner_id=other.pk, url=URL, events=["slot.created"])
    client = api_as(guest)

    for webhook_id in (theirs.pk, "7d3e6c1a-0000-4000-8000-000000000000", "nope"):
        assert_error(
            client.get(f"/api/webhooks/{webhook_id}{suffix}"),
            404,
            "NOT_FOUND",
            "WEBHOOK_NOT_FOUND",
            "Webhook not found",
        )


def test_deleting_removes_the_callers_endpoint_and_refuses_someone_elses(api_as, guest):
    other = UserFactory.create()
    mine = webhook_endpoint_create(owner_id=guest.pk, url=URL, events=["slot.created"])
    theirs = webhook_endpoint_create(owner_id=other.pk, url=URL, events=["slot.created"])
    client = api_as(guest)

    refused = client.delete(f"/api/webhooks/{theirs.pk}")
    deleted = client.delete(f"/api/webhooks/{mine.pk}")
    again = client.delete(f"/api/webhooks/{mine.pk}")

    assert_error(refused, 404, "NOT_FOUND", "WEBHOOK_NOT_FOUND", "Webhook not found")
    assert deleted.status_code == 200
    assert deleted.json() == {"success": True, "data": {"message": "Webhook deleted successfully"}}
    assert_error(again, 404, "NOT_FOUND", "WEBHOOK_NOT_FOUND", "Webhook not found")
    assert list(WebhookEndpoint.objects.values_list("pk", flat=True)) == [theirs.pk]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/webhooks"),
        ("get", "/api/webhooks"),
        ("get", "/api/webhooks/7d3e6c1a-0000-4000-8000-000000000000"),
        ("delete", "/api/webhooks/7d3e6c1a-0000-4000-8000-000000000000"),
        ("get", "/api/webhooks/7d3e6c1a-0000-4000-8000-000000000000/deliveries"),
    ],
)
def test_every_webhook_endpoint_needs_authentication(api, method, path):
    response = getattr(api, method)(path)

    assert_error(response, 401, "UNAUTHORIZED", "MISSING_CREDENTIALS", "Missing x-user-id header")


def test_a_wrong_method_answers_405(api_as, guest):
    response = api_as(guest).put("/api/webhooks")

    assert_error(response, 405, "METHOD_NOT_ALLOWED", "METHOD_NOT_ALLOWED", "Method not allowed")
