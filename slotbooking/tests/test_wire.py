"""Wire conventions (SPEC §1, §14 Input): paths, bodies, instants, uuids, pages, headers."""

from __future__ import annotations

import json
import uuid

import pytest

from accounts.tests.factories import HostFactory
from slotbooking.tests.envelopes import JSON, assert_error, assert_invalid
from slots.models import Slot
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"


def assert_malformed(response):
    assert_error(
        response, 400, "VALIDATION_ERROR", "MALFORMED_JSON", "Malformed JSON in request body"
    )


def post_raw(api, path, raw, content_type="application/json"):
    return api.generic("POST", path, raw, content_type)


# Routing -----------------------------------------------------------------------------------------
def test_root_describes_the_service(api):
    response = api.get("/")

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "data": {
            "name": "Slot Booking System API",
            "version": "1.0.0",
            "documentation": "/docs",
            "health": "/api/health",
        },
    }


def test_health_probes_the_database(api):
    response = api.get("/api/health")

    data = response.json()["data"]
    assert data["status"] == "healthy"
    assert data["checks"] == {"database": "ok"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/health",
        "/api/users/me",
        "/api/slots",
        "/api/slots/host",
        "/api/bookings",
        "/api/users",
    ],
)
def test_every_api_path_answers_with_and_without_a_trailing_slash(api, guest, path):
    api.as_user(guest, token=path == "/api/users")
    guest.is_staff = path == "/api/users"
    guest.save()

    bare, slashed = api.get(path), api.get(path + "/")

    assert bare.status_code == slashed.status_code == 200
    assert bare.json()["success"] is slashed.json()["success"] is True


def test_a_slot_path_with_a_trailing_slash_is_the_same_resource(api, guest):
    slot = SlotFactory.create()

    response = api.as_user(guest).get(f"/api/slots/{slot.pk}/")

    assert response.json()["data"]["id"] == str(slot.pk)


def test_posting_to_a_path_with_a_trailing_slash_is_not_redirected(api, host):
    response = api.as_user(host).post_json("/api/slots/", {})

    assert response.status_code == 400


@pytest.mark.parametrize(
    "path", ["/api/nope", "/api/slots/a/b", "/nope", "/api", "/api/bookings//", "/api/users/me/x"]
)
def test_an_unknown_path_answers_404_endpoint_not_found_with_or_without_credentials(
    api, guest, path
):
    anonymous = api.get(path)
    with_bad_token = api.get(path, HTTP_AUTHORIZATION="Bearer nope")
    signed_in = api.as_user(guest).post_json(path, {})

    for response in (anonymous, with_bad_token, signed_in):
        assert_error(
            response,
            404,
            "NOT_FOUND",
            "ENDPOINT_NOT_FOUND",
            "The requested endpoint does not exist",
        )


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("put", "/api/slots", {"GET", "POST", "HEAD", "OPTIONS"}),
        ("patch", "/api/users/me", {"GET", "HEAD", "OPTIONS"}),
        ("delete", "/api/users", {"GET", "POST", "HEAD", "OPTIONS"}),
        ("post", "/api/health", {"GET", "HEAD", "OPTIONS"}),
        ("get", "/api/users/me/token", {"POST", "OPTIONS"}),
        (
            "put",
            "/api/bookings/00000000-0000-4000-8000-000000000000",
            {"GET", "DELETE", "HEAD", "OPTIONS"},
        ),
    ],
)
def test_a_wrong_method_answers_405_with_an_allow_header(api, method, path, allow):
    response = getattr(api, method)(path)

    assert_error(response, 405, "METHOD_NOT_ALLOWED", "METHOD_NOT_ALLOWED", "Method not allowed")
    assert {m.strip() for m in response["Allow"].split(",")} == allow


def test_head_is_served_wherever_get_is(api, guest):
    assert api.head("/api/health").status_code == 200
    assert api.as_user(guest).head("/api/slots").status_code == 200


# Bodies ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b'{"slotId": }',
        b"{'slotId': 1}",
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b"[1,]",
        b'{"a":1} x',
    ],
)
def test_a_body_that_is_not_json_answers_400_malformed_json(api, guest, raw):
    assert_malformed(post_raw(api.as_user(guest), "/api/bookings", raw))


def test_a_body_that_is_not_utf8_answers_400_malformed_json(api, guest):
    assert_malformed(
        post_raw(api.as_user(guest), "/api/bookings", '{"slotId": "é"}'.encode("latin-1"))
    )


def test_a_body_nested_deeper_than_64_levels_answers_400_malformed_json(api, guest):
    deep = {"slotId": json.loads("[" * 64 + "]" * 64)}  # 65 levels with the outer object

    assert_malformed(api.as_user(guest).post_json("/api/bookings", deep))


def test_a_body_nested_64_levels_is_parsed(api, guest):
    nested = {"x": json.loads("[" * 63 + "]" * 63)}

    response = api.as_user(guest).post_json("/api/bookings", nested)

    assert_invalid(response, [{"path": "slotId", "message": "Required"}])


def test_an_absurdly_deep_body_is_malformed_not_a_crash(api, guest):
    assert_malformed(post_raw(api.as_user(guest), "/api/bookings", b"[" * 100_000 + b"]" * 100_000))


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"[]", "array"),
        (b'"x"', "string"),
        (b"1", "number"),
        (b"null", "null"),
        (b"true", "boolean"),
    ],
)
def test_a_json_body_that_is_not_an_object_fails_validation_at_the_root(api, guest, raw, kind):
    response = post_raw(api.as_user(guest), "/api/bookings", raw)

    assert_invalid(response, [{"path": "", "message": f"Expected object, received {kind}"}])


@pytest.mark.parametrize("text", ["a\u0000b", "\ud800", "x\udfffy"])
def test_a_string_with_nul_or_a_lone_surrogate_answers_invalid_characters(api, text):
    raw = json.dumps({"email": "a@example.com", "name": text})  # ensure_ascii keeps \ud800 escaped

    response = post_raw(api, "/api/users", raw.encode())

    assert_invalid(response, [{"path": "name", "message": "Invalid characters in string"}])


def test_a_body_over_one_mebibyte_answers_413(api, guest):
    raw = json.dumps({"slotId": "x", "pad": "a" * (1024 * 1024)}).encode()

    assert_error(
        post_raw(api.as_user(guest), "/api/bookings", raw),
        413,
        "PAYLOAD_TOO_LARGE",
        "PAYLOAD_TOO_LARGE",
        "Request body is too large",
    )


def test_a_form_body_over_one_mebibyte_answers_413(api, guest):
    raw = b"slotId=" + b"a" * (1024 * 1024 + 1)

    response = post_raw(api.as_user(guest), "/api/bookings", raw, FORM)

    assert response.status_code == 413


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "multipart/form-data; boundary=x"]
)
def test_another_content_type_answers_415(api, guest, content_type):
    response = post_raw(api.as_user(guest), "/api/bookings", b"slotId=x", content_type)

    assert_error(
        response,
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        "UNSUPPORTED_MEDIA_TYPE",
        "Unsupported media type; send application/json",
    )


def test_an_empty_body_counts_as_an_empty_object(api, guest):
    response = post_raw(api.as_user(guest), "/api/bookings", b"")

    assert_invalid(response, [{"path": "slotId", "message": "Required"}])


def test_duplicate_keys_keep_the_last_value(api, guest):
    slot = SlotFactory.create()
    raw = f'{{"slotId": "nope", "slotId": "{slot.pk}"}}'.encode()

    assert post_raw(api.as_user(guest), "/api/bookings", raw).status_code == 201


def test_a_form_body_with_a_bad_percent_escape_is_malformed(api, guest):
    response = post_raw(api.as_user(guest), "/api/bookings", b"slotId=%ff", FORM)

    assert_malformed(response)


def test_form_encoded_slot_times_are_strings_validated_like_json(api, host):
    raw = b"startTime=2031-03-01T10:00Z&endTime=2031-03-01T11:00Z"

    response = post_raw(api.as_user(host), "/api/slots", raw, FORM)

    assert response.status_code == 201
    assert response.json()["data"]["startTime"] == "2031-03-01T10:00:00.000Z"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"startTime": 1e400, "endTime": 1}',
        b'{"startTime": ' + b"9" * 500 + b', "endTime": 1}',
        b'{"startTime": -1e30, "endTime": 1}',
    ],
)
def test_huge_numbers_are_invalid_dates_not_crashes(api, host, raw):
    response = post_raw(api.as_user(host), "/api/slots", raw)

    assert response.json()["error"]["details"][0] == {
        "path": "startTime",
        "message": "Invalid date",
    }


def test_a_huge_number_as_slot_id_is_a_type_error(api, guest):
    response = post_raw(api.as_user(guest), "/api/bookings", b'{"slotId": ' + b"9" * 5000 + b"}")

    assert_invalid(response, [{"path": "slotId", "message": "Expected string, received number"}])


# Instants (SPEC §1.6) ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("2031-03-01", "2031-03-01T00:00:00.000Z"),
        ("2031-03-01T10:00", "2031-03-01T10:00:00.000Z"),
        ("2031-03-01T10:00:30", "2031-03-01T10:00:30.000Z"),
        ("2031-03-01T10:00:30.1", "2031-03-01T10:00:30.100Z"),
        ("2031-03-01T10:00:30.123456789", "2031-03-01T10:00:30.123Z"),
        ("2031-03-01T10:00:30.9999", "2031-03-01T10:00:30.999Z"),
        ("2031-03-01T10:00Z", "2031-03-01T10:00:00.000Z"),
        ("2031-03-01T10:00:00z", "2031-03-01T10:00:00.000Z"),
        ("2031-03-01T10:00+02:00", "2031-03-01T08:00:00.000Z"),
        ("2031-03-01T10:00+0200", "2031-03-01T08:00:00.000Z"),
        ("2031-03-01T10:00+02", "2031-03-01T08:00:00.000Z"),
        ("2031-03-01T10:00:00.5-05:30", "2031-03-01T15:30:00.500Z"),
        ("2031-03-01T00:30+01:00", "2031-02-28T23:30:00.000Z"),
        (1930469400000, "2031-03-05T09:30:00.000Z"),
        (1930469400000.9, "2031-03-05T09:30:00.000Z"),
    ],
)
def test_every_accepted_instant_form_is_read_as_the_contract_says(api, host, given, stored):
    response = api.as_user(host).post_json(
        "/api/slots", {"startTime": given, "endTime": "2031-12-31T00:00Z"}
    )

    assert response.status_code == 201, response.content
    assert response.json()["data"]["startTime"] == stored


@pytest.mark.parametrize(
    "given",
    [
        "2031-02-30",
        "2031-13-01",
        " 2031-03-01",
        "2031-03-01 ",
        "2031-03-01 10:00",
        "2031-3-1",
        "20310301",
        "2031-03-01T10",
        "2031-03-01T25:00",
        "2031-03-01T10:60",
        "2031-03-01T10:00:61",
        "2031-03-01T10:00:00.",
        "2031-03-01T10:00:00.1234567890",
        "2031-03-01T10:00+24:00",
        "2031-03-01T10:00+02:60",
        "2031-03-01T10:00 +02:00",
        "2031-03-01T10:00UTC",
        "0000-01-01",
        "10000-01-01",
        "+2031-03-01",
        "tomorrow",
        "",
        None,
        True,
        False,
        [],
        {},
        "2031-03-01T10:00:00Z[UTC]",
        "\uff19\uff19\uff19\uff19-01-01",
    ],
)
def test_an_invalid_instant_answers_invalid_date(api, host, given):
    response = api.as_user(host).post_json(
        "/api/slots", {"startTime": given, "endTime": "2031-12-31T00:00Z"}
    )

    assert_invalid(response, [{"path": "startTime", "message": "Invalid date"}])


def test_an_instant_is_truncated_to_milliseconds_before_the_overlap_check(api, host):
    api.as_user(host).post_json(
        "/api/slots",
        {"startTime": "2031-03-01T10:00Z", "endTime": "2031-03-01T11:00:00.000999Z"},
    )

    # Untruncated, 11:00:00.000500 would overlap the first slot's end at 11:00:00.000999.
    response = api.post_json(
        "/api/slots",
        {"startTime": "2031-03-01T11:00:00.0005Z", "endTime": "2031-03-01T12:00Z"},
    )

    assert response.status_code == 201, response.content
    assert response.json()["data"]["startTime"] == "2031-03-01T11:00:00.000Z"


def test_an_end_that_equals_the_start_after_truncation_is_refused(api, host):
    response = api.as_user(host).post_json(
        "/api/slots",
        {"startTime": "2031-03-01T10:00:00.0001Z", "endTime": "2031-03-01T10:00:00.0009Z"},
    )

    assert_invalid(response, [{"path": "endTime", "message": "End time must be after start time"}])


def test_an_offset_that_leaves_year_9999_is_invalid_not_a_crash(api, host):
    response = api.as_user(host).post_json(
        "/api/slots", {"startTime": "9999-12-31T23:00-05:00", "endTime": "9999-12-31T23:30Z"}
    )

    assert response.status_code == 400


# uuids (SPEC §1.5) -------------------------------------------------------------------------------
def test_a_path_uuid_in_upper_case_finds_the_resource(api, guest):
    slot = SlotFactory.create()

    assert api.as_user(guest).get(f"/api/slots/{str(slot.pk).upper()}").status_code == 200


@pytest.mark.parametrize("form", ["{{{}}}", "urn:uuid:{}", "{}x", "x{}"])
def test_a_path_uuid_in_another_form_is_the_resources_404(api, guest, form):
    slot = SlotFactory.create()

    response = api.as_user(guest).get("/api/slots/" + form.format(slot.pk))

    assert_error(response, 404, "NOT_FOUND", "SLOT_NOT_FOUND", "Slot not found")


def test_an_unhyphenated_path_uuid_is_the_resources_404(api, guest):
    slot = SlotFactory.create()

    response = api.as_user(guest).get(f"/api/slots/{slot.pk.hex}")

    assert_error(response, 404, "NOT_FOUND", "SLOT_NOT_FOUND", "Slot not found")


@pytest.mark.parametrize(
    "segment", ["%00", "%ff", "%F0%9F%98%80", "a" * 5000, "..%2f..", "'%20OR%201=1"]
)
def test_a_garbage_path_segment_is_the_resources_404(api, guest, segment):
    for prefix, reason in [
        ("/api/slots/", "SLOT_NOT_FOUND"),
        ("/api/bookings/", "BOOKING_NOT_FOUND"),
        ("/api/users/", "USER_NOT_FOUND"),
    ]:
        response = api.as_user(guest).get(prefix + segment)
        assert response.status_code == 404, (prefix, segment, response.content)
        assert response.json()["error"]["reason"] in (reason, "ENDPOINT_NOT_FOUND")


# Pagination (SPEC §1.7) --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "path", "message"),
    [
        ({"page": "0"}, "page", "Number must be greater than or equal to 1"),
        ({"page": ""}, "page", "Number must be greater than or equal to 1"),
        ({"page": "-1"}, "page", "Number must be greater than or equal to 1"),
        ({"page": "1000001"}, "page", "Number must be less than or equal to 1000000"),
        ({"page": "abc"}, "page", "Expected number, received nan"),
        ({"page": "1.5"}, "page", "Expected integer, received float"),
        ({"limit": "101"}, "limit", "Number must be less than or equal to 100"),
        ({"limit": "0"}, "limit", "Number must be greater than or equal to 1"),
        ({"limit": "1.5"}, "limit", "Expected integer, received float"),
        ({"limit": "x"}, "limit", "Expected number, received nan"),
        ({"limit": "1" + "0" * 400}, "limit", "Number must be less than or equal to 100"),
        ({"page": "-1e400"}, "page", "Number must be greater than or equal to 1"),
    ],
)
def test_out_of_range_pagination_is_rejected_never_clamped(api, guest, query, path, message):
    for endpoint in ("/api/slots", "/api/slots/host", "/api/bookings"):
        response = api.as_user(guest).get(endpoint, query)
        assert_invalid(response, [{"path": path, "message": message}])


def test_page_bounds_and_decimal_text_are_accepted(api, guest):
    assert (
        api.as_user(guest).get("/api/slots", {"page": "1000000", "limit": "100"}).status_code == 200
    )
    assert api.get("/api/slots", {"page": "2.0"}).json()["meta"]["page"] == 2


def test_both_pagination_failures_are_reported_page_first(api, guest):
    response = api.as_user(guest).get("/api/slots", {"limit": "101", "page": "0"})

    assert_invalid(
        response,
        [
            {"path": "page", "message": "Number must be greater than or equal to 1"},
            {"path": "limit", "message": "Number must be less than or equal to 100"},
        ],
    )


def test_pages_never_overlap_and_a_page_past_the_last_is_empty_with_the_real_total(api, guest):
    host = HostFactory.create()
    slots = [SlotFactory.create(host=host) for _ in range(5)]

    pages = [
        api.as_user(guest).get("/api/slots", {"limit": "2", "page": str(n)}).json()
        for n in (1, 2, 3, 4)
    ]

    seen = [s["id"] for page in pages for s in page["data"]]
    assert seen == [str(s.pk) for s in slots]
    assert [p["meta"] for p in pages] == [{"page": n, "limit": 2, "total": 5} for n in (1, 2, 3, 4)]
    assert pages[3]["data"] == []


def test_a_repeated_query_parameter_keeps_the_last_value(api, guest):
    response = api.as_user(guest).get("/api/slots?limit=500&limit=3")

    assert response.json()["meta"]["limit"] == 3


def test_unknown_query_parameters_are_ignored(api, guest):
    assert api.as_user(guest).get("/api/slots", {"foo": "bar"}).status_code == 200


# Headers -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("rid", ["abc-" + "x" * 124, "trace id 42", "~!@#$%^&*()"])
def test_a_sane_incoming_request_id_is_reused(api, rid):
    # Up to 128 printable ASCII characters (0x20-0x7E), the space included.
    assert api.get("/api/health", HTTP_X_REQUEST_ID=rid)["X-Request-Id"] == rid


@pytest.mark.parametrize("rid", ["x" * 129, "caf\u00e9", "a\tb", ""])
def test_an_unfit_request_id_is_replaced_by_a_uuid(api, rid):
    response = api.get("/api/health", HTTP_X_REQUEST_ID=rid)

    assert uuid.UUID(response["X-Request-Id"]).version == 4


def test_every_response_carries_a_request_id_and_the_security_headers(api):
    for response in (
        api.get("/api/health"),
        api.get("/nope"),
        api.get("/api/users/me"),
        api.put("/api/slots"),
    ):
        assert uuid.UUID(response["X-Request-Id"]).version == 4  # made by the middleware
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Frame-Options"] == "DENY"
        assert response["Content-Type"] == JSON


def test_cors_preflight_allows_the_documented_headers_from_any_origin(api):
    response = api.options(
        "/api/bookings",
        HTTP_ORIGIN="https://app.example.org",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=(
            "authorization, x-user-id, idempotency-key, content-type"
        ),
    )

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] in ("*", "https://app.example.org")
    allowed = {h.strip().lower() for h in response["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "x-user-id", "idempotency-key", "content-type"} <= allowed


def test_cors_exposes_the_documented_response_headers(api):
    response = api.get("/api/health", HTTP_ORIGIN="https://app.example.org")

    exposed = {h.strip().lower() for h in response["Access-Control-Expose-Headers"].split(",")}
    assert {
        "x-request-id",
        "retry-after",
        "idempotent-replayed",
        "idempotency-key",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    } <= exposed


def test_accept_text_html_still_gets_json(api, guest):
    for response in (
        api.get("/api/health", HTTP_ACCEPT="text/html"),
        api.get("/api/users/me", HTTP_ACCEPT="text/html"),
        api.get("/nope", HTTP_ACCEPT="text/html"),
        api.put("/api/slots", HTTP_ACCEPT="text/html"),
        api.as_user(guest).get("/api/slots?page=0", HTTP_ACCEPT="text/html"),
    ):
        assert response["Content-Type"] == JSON
        assert "success" in response.json()


def test_bad_input_of_every_kind_never_causes_a_5xx_or_html(api, guest, host):
    api.as_user(guest)
    requests = [
        ("get", "/api/slots?startDate=%00&endDate=%ED%A0%80"),
        ("get", "/api/slots?hostId=" + "f" * 10000),
        ("get", "/api/bookings?status=%ff%fe"),
        ("get", "/api/admin/analytics?start_date=%00"),
        ("get", "/api/users/%00"),
        ("delete", "/api/bookings/%00"),
        ("delete", "/api/slots/" + "9" * 300),
    ]
    bodies = [
        b"\x00",
        b"\xff\xfe",
        b'{"slotId": "\\u0000"}',
        b'{"slotId": "\\ud800"}',
        b'{"slotId": {"$ne": null}}',
        b'{"__proto__": {}}',
        b"1e999999",
        b'"' + b"a" * 10000 + b'"',
    ]
    responses = [getattr(api, method)(path) for method, path in requests]
    responses += [
        post_raw(api, path, raw) for raw in bodies for path in ("/api/bookings", "/api/users")
    ]
    api.as_user(host)
    responses += [post_raw(api, "/api/slots", raw) for raw in bodies]
    for response in responses:
        assert 400 <= response.status_code < 500, response.content
        assert response["Content-Type"] == JSON
        assert response.json()["success"] is False


def test_a_failed_request_writes_nothing(api, host):
    post_raw(api.as_user(host), "/api/slots", b'{"startTime": "2031-01-01", "endTime": "x"}')

    assert not Slot.objects.exists()
