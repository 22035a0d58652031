"""The OpenAPI document and the docs (SPEC §3.5)."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from core.errors import DomainError

pytestmark = pytest.mark.django_db


def schema(api) -> dict:
    response = api.get("/api/schema/?format=json")
    assert response.status_code == 200, response.content
    return response.json()


def test_spectacular_validates_without_a_warning(tmp_path):
    target = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    assert target.read_text().startswith("openapi: 3")


def test_the_schema_is_served_as_yaml_and_as_json(api):
    yaml = api.get("/api/schema/")
    by_accept = api.get("/api/schema/", HTTP_ACCEPT="application/json")
    docs_json = api.get("/docs/json")

    assert yaml.status_code == 200
    assert yaml.content.startswith(b"openapi: 3")
    assert json.loads(by_accept.content)["openapi"].startswith("3.")
    assert docs_json.status_code == 200
    assert json.loads(docs_json.content) == schema(api)


def test_the_schema_declares_both_security_schemes(api):
    schemes = schema(api)["components"]["securitySchemes"]

    assert schemes["UserIdHeader"] == {"type": "apiKey", "in": "header", "name": "x-user-id"}
    assert schemes["BearerAuth"] == {"type": "http", "scheme": "bearer"}


def test_protected_operations_accept_either_scheme_and_public_ones_none(api):
    paths = schema(api)["paths"]
    either: list[dict[str, list[str]]] = [{"BearerAuth": []}, {"UserIdHeader": []}]

    assert paths["/api/bookings/"]["post"]["security"] == either
    assert paths["/api/admin/analytics/"]["get"]["security"] == either
    assert "security" not in paths["/api/health/"]["get"]
    assert "security" not in paths["/"]["get"]
    assert "security" not in paths["/api/users/"]["post"]


def test_every_reason_appears_in_the_schema(api):
    document = schema(api)
    text = json.dumps(document)

    missing = [reason for reason in DomainError.by_reason if f'"{reason}"' not in text]

    assert missing == []
    assert set(document["components"]["schemas"]["ReasonEnum"]["enum"]) == set(
        DomainError.by_reason
    )


def test_every_reason_an_operation_can_return_has_an_example(api):
    examples = set()
    for operations in schema(api)["paths"].values():
        for operation in operations.values():
            for response in operation["responses"].values():
                for content in response.get("content", {}).values():
                    for example in content.get("examples", {}).values():
                        if "error" in example["value"]:
                            examples.add(example["value"]["error"]["reason"])

    # These belong to no operation: ENDPOINT_NOT_FOUND is the answer of paths that have none;
    # the request-size and parse errors come before any route is chosen (and from the web
    # server itself); CSRF_FAILED is the admin forms' (the API needs no CSRF token).
    assert set(DomainError.by_reason) - examples == {
        "ENDPOINT_NOT_FOUND",
        "URI_TOO_LONG",
        "REQUEST_HEADER_FIELDS_TOO_LARGE",
        "MALFORMED_REQUEST",
        "CSRF_FAILED",
    }


def test_error_responses_share_the_error_envelope(api):
    operation = schema(api)["paths"]["/api/bookings/"]["post"]

    for status in ("400", "401", "404", "409", "503"):
        content = operation["responses"][status]["content"]["application/json"]
        assert content["schema"] == {"$ref": "#/components/schemas/ErrorEnvelope"}


@pytest.mark.parametrize("path", ["/docs", "/api/docs", "/docs/", "/api/docs/"])
def test_swagger_ui_is_served_from_static_files_without_a_cdn(api, path):
    response = api.get(path, HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "/static/drf_spectacular_sidecar/" in html
    for cdn in ("cdn.", "jsdelivr", "unpkg", "cdnjs", "https://", "http://"):
        assert cdn not in html, cdn
