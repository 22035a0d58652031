"""The OpenAPI document describes what the server really does (SPEC §3.5), for client generators.

Each test pins one thing a generated client relies on: the shape of list answers, the limits the
server enforces, the bodies it reads, and text written for the API's users.
"""

from __future__ import annotations

import json
import re

import pytest
from django.core.management import get_commands, load_command_class

pytestmark = pytest.mark.django_db

LIST_OPERATIONS = [
    "/api/slots/",
    "/api/slots/host/",
    "/api/bookings/",
    "/api/users/",
    "/api/bookings/{booking_id}/history/",
]
INTERNAL = re.compile(r"SPEC|§|viewset|docstring|drf|serializer|\bI\d\b|\bM\d\b", re.IGNORECASE)


@pytest.fixture
def document(api) -> dict:
    response = api.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def resolve(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def operations(document: dict):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def parameter(operation: dict, name: str) -> dict:
    (found,) = [p for p in operation.get("parameters", []) if p["name"] == name]
    return found


@pytest.mark.parametrize("path", LIST_OPERATIONS)
def test_a_list_answer_is_one_envelope_object_with_data_and_meta(document, path):
    ok = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]

    envelope = resolve(document, ok["schema"])

    assert envelope["type"] == "object"
    assert set(envelope["properties"]) == {"success", "data", "meta"}
    assert envelope["properties"]["data"]["type"] == "array"
    meta = resolve(document, envelope["properties"]["meta"])
    assert set(meta["properties"]) == {"page", "limit", "total"}


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/bookings/", "post"),
        ("/api/slots/", "post"),
        ("/api/bookings/{booking_id}/", "delete"),
    ],
)
def test_the_idempotency_key_documents_its_length_and_characters(document, path, method):
    key = parameter(document["paths"][path][method], "Idempotency-Key")

    assert key["in"] == "header"
    assert key["schema"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 255,
        "pattern": "^[!-~]+$",
    }


@pytest.mark.parametrize("path", LIST_OPERATIONS)
def test_page_and_limit_document_their_bounds(document, path):
    operation = document["paths"][path]["get"]

    page, limit = parameter(operation, "page")["schema"], parameter(operation, "limit")["schema"]

    assert (page["type"], page["minimum"], page["maximum"], page["default"]) == (
        "integer",
        1,
        1_000_000,
        1,
    )
    assert (limit["type"], limit["minimum"], limit["maximum"], limit["default"]) == (
        "integer",
        1,
        100,
        20,
    )


def test_query_instants_are_date_times_and_ids_are_uuids(document):
    for path in ("/api/slots/", "/api/slots/host/", "/api/bookings/"):
        operation = document["paths"][path]["get"]
        for name in ("startDate", "endDate"):
            assert parameter(operation, name)["schema"] == {"type": "string", "format": "date-time"}
    host_id = parameter(document["paths"]["/api/slots/"]["get"], "hostId")
    assert host_id["schema"] == {"type": "string", "format": "uuid"}
    for path, _, operation in operations(document):
        for item in operation.get("parameters", []):
            if item["in"] == "path":
                assert item["schema"] == {"type": "string", "format": "uuid"}, path


def test_the_host_slot_list_documents_no_host_filter(document):
    names = {p["name"] for p in document["paths"]["/api/slots/host/"]["get"]["parameters"]}

    assert "hostId" not in names
    assert {"startDate", "endDate", "status", "page", "limit"} <= names


def test_roles_is_an_array_with_min_items(document):
    roles = resolve(document, {"$ref": "#/components/schemas/UserCreateInRequest"})["properties"][
        "roles"
    ]

    assert roles["type"] == "array"
    assert roles["minItems"] == 1
    assert "minLength" not in roles


def test_the_cancel_body_with_its_reason_is_documented(document):
    body = document["paths"]["/api/bookings/{booking_id}/"]["delete"]["requestBody"]

    assert body["required"] is False
    schema = resolve(document, body["content"]["application/json"]["schema"])
    assert schema["properties"]["reason"]["type"] == "string"
    assert schema["properties"]["reason"]["maxLength"] == 500


def test_request_bodies_are_offered_as_json_only(document):
    bodies = [op["requestBody"] for _, _, op in operations(document) if "requestBody" in op]

    assert bodies
    assert all(list(body["content"]) == ["application/json"] for body in bodies)


def test_every_operation_has_a_user_facing_description(document):
    for path, method, operation in operations(document):
        description = operation.get("description", "")
        assert description, (method, path)
        assert not INTERNAL.search(description), (method, path, description)


def test_the_document_has_no_section_numbers_or_implementation_notes(document):
    text = json.dumps(document, ensure_ascii=False)

    assert "SPEC" not in text
    assert "§" not in text
    assert "as in the original" not in text


def test_operations_are_tagged_by_resource(document):
    tags = {(path, method): op["tags"] for path, method, op in operations(document)}

    assert {tag for value in tags.values() for tag in value} == {
        "users",
        "slots",
        "bookings",
        "analytics",
        "webhooks",
        "calendars",
        "health",
    }
    assert tags[("/api/users/me/", "get")] == ["users"]
    assert tags[("/api/slots/host/", "get")] == ["slots"]
    assert tags[("/api/bookings/{booking_id}/history/", "get")] == ["bookings"]
    assert tags[("/api/admin/analytics/", "get")] == ["analytics"]
    assert tags[("/api/health/", "get")] == ["health"]
    assert tags[("/", "get")] == ["health"]
    assert [tag["name"] for tag in document["tags"]] == [
        "users",
        "slots",
        "bookings",
        "analytics",
        "webhooks",
        "calendars",
        "health",
    ]


def test_the_booked_example_is_a_confirmed_booking_without_a_cancellation(document):
    created = document["paths"]["/api/bookings/"]["post"]["responses"]["201"]
    examples = created["content"]["application/json"]["examples"]

    (example,) = examples.values()
    booking = example["value"]["data"]
    assert booking["status"] == "CONFIRMED"
    assert booking["cancelledAt"] is None
    assert booking["slot"]["status"] == "BOOKED"


OUR_APPS = ("accounts", "slots", "bookings", "analytics", "slotbooking")


def test_command_help_has_no_section_numbers_or_implementation_notes():
    ours = [name for name, app in get_commands().items() if app in OUR_APPS]
    assert "seed_demo" in ours
    for name in ours:
        command = load_command_class(get_commands()[name], name)
        text = command.create_parser("manage.py", name).format_help()
        assert "SPEC" not in text, name
        assert "§" not in text, name


def test_admin_pages_have_no_section_numbers(admin_client):
    for url in (
        "/admin/",
        "/admin/bookings/booking/",
        "/admin/slots/slot/",
        "/admin/accounts/user/",
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert "SPEC" not in response.content.decode(), url
        assert "§" not in response.content.decode(), url
