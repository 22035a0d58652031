"""The orjson renderer and parser give exactly what DRF's JSONRenderer and json.loads gave.

The reference renderer is the one the API used before (DRF's JSONRenderer, compact, ensure_ascii
off, strict); the reference reader is json.loads with the same hooks. Both are run over values of
every kind the API renders or reads, and over the responses of real requests.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import random
import struct
import uuid
from datetime import UTC, timedelta, timezone

import pytest
from django.utils.functional import lazy
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from accounts.tests.factories import HostFactory, UserFactory
from bookings.tests.factories import BookingFactory
from core.api import parsers
from core.api.renderers import JsonRenderer
from core.db.instants import format_instant
from core.errors import MalformedJsonError
from slots.models import SlotStatus
from slots.tests.factories import SlotFactory


class ReferenceRenderer(JSONRenderer):
    charset = "utf-8"
    ensure_ascii = False
    compact = True


def reference_loads(body: bytes):
    if not body.strip():
        return {}
    try:
        value = json.loads(
            body.decode("utf-8"),
            parse_constant=parsers._reject_constant,
            parse_int=parsers._parse_int,
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MalformedJsonError() from None
    if parsers._depth_exceeds(value, parsers.MAX_DEPTH):
        raise MalformedJsonError()
    return value


def outcome(render, value):
    try:
        return render(value)
    except Exception as exc:  # the same failure, if any
        return type(exc)


def assert_renders_the_same(value) -> None:
    fast = outcome(JsonRenderer().render, value)
    reference = outcome(ReferenceRenderer().render, value)
    assert fast == reference, value


EVERY_CHARACTER = "".join(chr(c) for c in range(0xD800)) + "".join(
    chr(c) for c in range(0xE000, 0x110000)
)
RANDOM = random.Random(14)


def random_floats(count: int) -> list[float]:
    floats: list[float] = []
    while len(floats) < count:
        bits = struct.unpack("d", struct.pack("Q", RANDOM.getrandbits(64)))[0]
        if bits == bits and abs(bits) != float("inf"):
            floats.append(bits)
        floats.append(RANDOM.uniform(-1, 1) * 10 ** RANDOM.randint(-9, 20))
        floats.append(round(RANDOM.uniform(0, 100), 2))
    return floats


@pytest.mark.parametrize(
    "value",
    [
        None,
        {"success": True, "data": {"id": str(uuid.uuid4()), "n": 1, "ok": False, "x": None}},
        EVERY_CHARACTER,
        {"line": "a\u2028b\u2029c", "quote": '"\\/\b\f\n\r\t\x00\x1f\x7f'},
        "\ud800",  # a lone surrogate: json writes it, encoding it fails, as ever
        [0, -1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**400],
        [0.0, -0.0, 1e16, 1e-5, 2.5e-5, 1e-7, 0.1, 33.33, 1.7976931348623157e308, 5e-324],
        random_floats(3000),
        [decimal.Decimal("12.50"), decimal.Decimal("1E+20"), decimal.Decimal("0.00001")],
        [
            dt.datetime(2030, 2, 1, 10, tzinfo=UTC),
            dt.datetime(2030, 2, 1, 10, 0, 0, 123456, tzinfo=UTC),
            dt.datetime(2030, 2, 1, 10, tzinfo=timezone(timedelta(hours=5, minutes=45))),
            dt.datetime(2030, 2, 1, 10),  # noqa: DTZ001  # naive, as DRF writes it
            dt.date(2030, 2, 1),
            dt.time(9, 30, 15, 500),
            timedelta(hours=1, microseconds=5),
        ],
        [uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)],
        [lazy(lambda: "lazy ✓", str)(), ErrorDetail("Invalid date", code="invalid")],
        (1, (2, [3])),
        {1: "int key", None: "none key", 2.5: "float key"},
        b"bytes",
        {"set": {1}},
        ReturnDict({"a": ReturnList([1, 2], serializer=None)}, serializer=None),  # type: ignore[call-overload]
        [SlotStatus.AVAILABLE, {SlotStatus.BOOKED: 1}],
        {"deep": json.loads("[" * 40 + "1" + "]" * 40)},
        [[] for _ in range(3)] + [{}],
        json.loads("[" * 300 + "]" * 300),
        object(),  # nothing can write it: both refuse
        {"strings that look like floats": "1e5 0.00001"},
    ],
    ids=lambda value: type(value).__name__,
)
def test_the_renderer_writes_what_drf_wrote(value):
    assert_renders_the_same(value)


def test_the_renderer_honours_an_indent_as_drf_does():
    data = {"a": [1, {"b": "ç"}]}
    for accepted in ["application/json; indent=4", "application/json"]:
        assert JsonRenderer().render(data, accepted) == ReferenceRenderer().render(data, accepted)
    context = {"indent": 2}
    assert JsonRenderer().render(data, None, context) == ReferenceRenderer().render(
        data, None, context
    )


BODIES = [
    b"",
    b"  \n",
    b'{"slotId": "00000000-0000-0000-0000-000000000001"}',
    '{"name": "Zoë ✓ \u2028", "roles": ["HOST"]}'.encode(),
    b'{"a": 1, "a": 2}',
    b'{"n": 18446744073709551615, "m": -9223372036854775808}',
    b'{"n": 18446744073709551616}',
    b'{"n": -9223372036854775809}',
    b"[" + b"1" * 300 + b"]",
    b"[" + b"1" * 301 + b"]",
    b"1e400",
    b"[-1E400, 1.5e-400, -0, -0.0, 0.1e1, 1e5]",
    b'"\\ud800"',
    b'{"a": "\\u0000"}',
    b"NaN",
    b"[Infinity]",
    b"-Infinity",
    b"[1,]",
    b'"\x01"',
    b"\xef\xbb\xbf{}",
    b"\xff\xfe",
    b'{"a": "\xc3"}',
    b"01",
    b"{} {}",
    b"[" * 64 + b"]" * 64,
    b"[" * 65 + b"]" * 65,
    b"[" * 2000 + b"]" * 2000,
    b'{"capacity": 3, "skipConflicts": true, "dryRun": false, "x": null}',
]


def random_bodies(count: int) -> list[bytes]:
    def value(depth: int):
        kind = RANDOM.randrange(8 if depth < 4 else 5)
        if kind == 0:
            wide = RANDOM.random() < 0.2
            return RANDOM.randint(-(2**70), 2**70) if wide else RANDOM.randint(-9, 99)
        if kind == 1:
            return RANDOM.choice(random_floats(1))
        if kind == 2:
            codes = [RANDOM.choice([RANDOM.randrange(0x80), RANDOM.randrange(0xD800)])]
            return "".join(chr(code) for code in codes * RANDOM.randrange(8))
        if kind == 3:
            return RANDOM.choice([True, False, None])
        if kind == 4:
            return ""
        if kind == 5:
            return [value(depth + 1) for _ in range(RANDOM.randrange(4))]
        return {f"k{RANDOM.randrange(5)}": value(depth + 1) for _ in range(RANDOM.randrange(4))}

    bodies = []
    for _ in range(count):
        text = json.dumps(value(0), ensure_ascii=RANDOM.random() < 0.5)
        if RANDOM.random() < 0.2:
            text = text[: RANDOM.randrange(len(text) + 1)]  # cut short: mostly malformed
        bodies.append(text.encode("utf-8", "surrogatepass"))
    return bodies


def assert_reads_the_same(body: bytes) -> None:
    fast = outcome(parsers.loads, body)
    reference = outcome(reference_loads, body)

    assert type(fast) is type(reference), body
    assert repr(fast) == repr(reference), body


@pytest.mark.parametrize("body", BODIES, ids=lambda b: repr(b[:20]))
def test_the_parser_reads_what_json_read(body):
    assert_reads_the_same(body)


def test_the_parser_reads_random_bodies_as_json_did():
    for body in random_bodies(5000):
        assert_reads_the_same(body)


@pytest.mark.django_db
def test_real_responses_render_byte_for_byte_as_before(api_as):
    host = HostFactory.create(name="Ånne ✓")
    guest = UserFactory.create(name="Zoë \u2028")
    staff = UserFactory.create(is_staff=True)
    slot = SlotFactory.create(host=host, capacity=3)
    BookingFactory.create(created_at=dt.datetime(2026, 3, 10, 12, tzinfo=UTC))
    BookingFactory.create(created_at=dt.datetime(2026, 3, 11, 12, tzinfo=UTC))
    guest_api = api_as(guest)
    responses = [
        guest_api.get("/"),
        guest_api.get("/api/health"),
        guest_api.get("/api/users/me"),
        guest_api.post_json("/api/bookings", {"slotId": str(slot.pk)}),
        guest_api.get("/api/bookings"),
        guest_api.get(f"/api/slots/{slot.pk}"),
        guest_api.get("/api/slots?limit=3"),
        guest_api.get("/api/slots?startDate=nope"),
        guest_api.post_json("/api/bookings", {"slotId": 12}),
        guest_api.put("/api/bookings"),
        api_as(host).get(f"/api/slots/{slot.pk}"),
        api_as(host).get("/api/slots/host"),
        api_as(staff, token=True).get(
            "/api/admin/analytics", {"start_date": "2026-03-01", "end_date": "2026-03-31"}
        ),
    ]
    for response in responses:
        assert response["Content-Type"] == "application/json; charset=utf-8"
        if hasattr(response, "data"):  # a DRF Response: what it rendered from
            assert response.content == ReferenceRenderer().render(response.data), response.content


def test_instants_are_written_as_strftime_wrote_them():
    def reference(value: dt.datetime) -> str:
        value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"

    first, last = dt.datetime(1, 1, 2, tzinfo=UTC), dt.datetime(9999, 12, 30, tzinfo=UTC)
    span = int((last - first).total_seconds() * 1_000_000)
    for _ in range(20_000):
        value = first + timedelta(microseconds=RANDOM.randrange(span))
        if RANDOM.random() < 0.3:
            zone = timezone(timedelta(minutes=RANDOM.randrange(-720, 721, 15)))
            value = value.astimezone(zone)
        assert format_instant(value) == reference(value)
    for value in [first, dt.datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), last]:
        assert format_instant(value) == reference(value)
