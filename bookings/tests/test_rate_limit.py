"""SPEC §12.9: POST /api/bookings limited per user in a fixed window counted in real Redis."""

from __future__ import annotations

import logging
import math
import time
import uuid

import pytest
from django.conf import settings as django_settings

from accounts.tests.factories import UserFactory
from bookings.models import Booking
from core.idempotency.models import IdempotencyRecord
from core.metrics.registry import metrics_registry
from core.redis_clients import redis_client
from slotbooking.tests.concurrency import http_call
from slotbooking.tests.envelopes import assert_error
from slotbooking.tests.servers import gunicorn, private_redis
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db

LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
MESSAGE = "Too many requests. Please try again in {n} seconds."


@pytest.fixture
def limit(settings):
    """3 bookings per 60 s: small enough to run out of within a test."""
    settings.BOOKING_RATE_LIMIT = 3
    settings.BOOKING_RATE_LIMIT_WINDOW = 60
    return settings


def book(api, slot=None, *, key: str | None = None, body=None):
    headers = {"Idempotency-Key": key} if key else {}
    payload = body if body is not None else {"slotId": str((slot or SlotFactory.create()).pk)}
    return api.post_json("/api/bookings", payload, headers=headers)


def limits(response) -> tuple[int, int, int]:
    return tuple(int(response[name]) for name in LIMIT_HEADERS)  # type: ignore[return-value]


def limiter_errors() -> float:
    return metrics_registry().get_sample_value("slotbooking_rate_limiter_errors_total") or 0.0


def test_every_answer_in_the_window_counts_down_and_shares_one_reset(api_as, guest, limit):
    api = api_as(guest)
    before = time.time()

    created = book(api)
    invalid = book(api, body={"slotId": "nope"})
    missing = book(api, body={"slotId": str(uuid.uuid4())})
    refused = book(api)

    assert [r.status_code for r in (created, invalid, missing, refused)] == [201, 400, 404, 429]
    assert [limits(r)[:2] for r in (created, invalid, missing, refused)] == [
        (3, 2),
        (3, 1),
        (3, 0),
        (3, 0),
    ]
    resets = {limits(r)[2] for r in (created, invalid, missing, refused)}
    assert len(resets) == 1  # one window: it opened at the first request
    (reset,) = resets
    assert math.floor(before) + 59 <= reset <= math.ceil(time.time()) + 60


def test_over_the_limit_answers_429_rate_limited_with_retry_after(api_as, guest, limit):
    api = api_as(guest)
    for _ in range(3):
        book(api)

    response = book(api)

    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 60
    assert_error(
        response, 429, "RATE_LIMIT_EXCEEDED", "RATE_LIMITED", MESSAGE.format(n=retry_after)
    )
    assert retry_after <= limits(response)[2] - math.floor(time.time()) + 1
    assert Booking.objects.filter(user=guest).count() == 3


def test_a_401_is_not_counted_and_carries_no_rate_limit_headers(api, api_as, guest, limit):
    anonymous = book(api.as_user(None))
    unknown = api.generic("POST", "/api/bookings", "{}", headers={"x-user-id": str(uuid.uuid4())})

    assert anonymous.status_code == unknown.status_code == 401
    assert not any(name in anonymous for name in LIMIT_HEADERS)
    assert not any(name in unknown for name in LIMIT_HEADERS)
    assert limits(book(api_as(guest)))[:2] == (3, 2)


def test_replays_and_malformed_bodies_are_counted_too(api_as, guest, limit):
    api = api_as(guest)
    slot = SlotFactory.create()

    first = book(api, slot, key="k-1")
    replay = book(api, slot, key="k-1")
    malformed = api.generic("POST", "/api/bookings", "{not json", "application/json")

    assert first.status_code == 201
    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert malformed.status_code == 400
    assert [limits(r)[1] for r in (first, replay, malformed)] == [2, 1, 0]


def test_a_refused_request_runs_nothing_and_stores_nothing_under_its_key(api_as, guest, settings):
    settings.BOOKING_RATE_LIMIT = 1
    settings.BOOKING_RATE_LIMIT_WINDOW = 2
    api = api_as(guest)
    slot = SlotFactory.create()
    book(api)

    refused = book(api, slot, key="after-the-limit")

    assert refused.status_code == 429
    assert not IdempotencyRecord.objects.filter(user=guest, key="after-the-limit").exists()
    assert not Booking.objects.filter(slot=slot).exists()
    # Once the window is over, the same key runs for the first time: no replay of the 429.
    time.sleep(max(0.0, limits(refused)[2] - time.time()) + 0.1)
    again = book(api, slot, key="after-the-limit")
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert limits(again)[:2] == (1, 0)


def test_a_new_window_starts_with_the_whole_limit_and_a_later_reset(api_as, guest, settings):
    settings.BOOKING_RATE_LIMIT = 2
    settings.BOOKING_RATE_LIMIT_WINDOW = 2
    api = api_as(guest)
    first = [book(api) for _ in range(3)]
    assert [r.status_code for r in first] == [201, 201, 429]
    reset = limits(first[0])[2]

    time.sleep(max(0.0, reset - time.time()) + 0.1)
    later = book(api)

    assert later.status_code == 201
    limit_, remaining, new_reset = limits(later)
    assert (limit_, remaining) == (2, 1)
    assert new_reset > reset


def test_the_count_goes_on_after_redis_forgot_the_counting_script(api_as, guest, limit):
    api = api_as(guest)
    first = book(api)
    redis_client(django_settings.REDIS_URL).script_flush()  # as after a Redis restart

    second = book(api)

    assert second.status_code == 201
    assert limits(second)[:2] == (3, 1)
    assert limits(second)[2] == limits(first)[2]


def test_a_key_without_expiry_gets_the_window(api_as, guest, limit):
    key = f"slotbooking:ratelimit:bookings:{guest.pk}"
    redis_client(django_settings.REDIS_URL).set(key, 1)  # written by hand, no expiry

    response = book(api_as(guest))

    assert limits(response)[:2] == (3, 1)
    assert 0 < redis_client(django_settings.REDIS_URL).ttl(key) <= 60


def test_each_user_has_a_window_of_their_own(api_as, limit):
    alice, bob = UserFactory.create_batch(2)
    for _ in range(4):
        book(api_as(alice))

    response = book(api_as(bob))

    assert response.status_code == 201
    assert limits(response)[:2] == (3, 2)


def test_a_limit_of_zero_turns_the_limiter_off(api_as, guest, settings):
    settings.BOOKING_RATE_LIMIT = 0
    api = api_as(guest)

    responses = [book(api, body={"slotId": "nope"}) for _ in range(12)]

    assert {r.status_code for r in responses} == {400}
    assert not any(name in r for r in responses for name in LIMIT_HEADERS)


def test_other_endpoints_are_not_limited(api_as, guest, limit):
    api = api_as(guest)
    for _ in range(4):
        book(api)

    listed = api.get("/api/bookings")

    assert listed.status_code == 200
    assert "X-RateLimit-Limit" not in listed


def test_with_redis_down_the_limiter_fails_open_with_a_warning_and_a_metric(
    api_as, guest, settings, tmp_path, caplog
):
    settings.BOOKING_RATE_LIMIT = 1
    api = api_as(guest)
    with private_redis(tmp_path) as redis_server:
        settings.REDIS_URL = redis_server.url
        assert book(api).status_code == 201
        assert book(api).status_code == 429  # this Redis really counts
        redis_server.stop()
        errors_before = limiter_errors()

        with caplog.at_level(logging.WARNING, logger="core.ratelimit"):
            responses = [book(api) for _ in range(2)]

    assert [r.status_code for r in responses] == [201, 201]
    assert limits(responses[0])[:2] == (1, 1)  # uncounted: the whole limit is shown
    assert limiter_errors() == errors_before + 2
    assert [r.levelname for r in caplog.records if "rate limiter" in r.getMessage()] == [
        "WARNING",
        "WARNING",
    ]


@pytest.mark.django_db(transaction=True)  # the servers see committed rows only
def test_two_server_processes_share_one_window(tmp_path, settings):
    guest = UserFactory.create()
    slots = SlotFactory.create_batch(5)
    env = {
        "BOOKING_RATE_LIMIT": "3",
        "BOOKING_RATE_LIMIT_WINDOW": "60",
        "REDIS_URL": settings.REDIS_URL,
    }

    with (
        gunicorn(tmp_path, workers=1, env=env) as one,
        gunicorn(tmp_path, workers=1, env=env) as two,
    ):
        answers = [
            http_call(
                "POST", f"{server.url}/api/bookings", user_id=guest.pk, body={"slotId": str(s.pk)}
            )
            for server, s in zip((one, two, one, two, one), slots, strict=True)
        ]
        assert one.process.pid != two.process.pid

    assert [a.status for a in answers] == [201, 201, 201, 429, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0", "0"]
    assert len({a.headers["X-RateLimit-Reset"] for a in answers}) == 1
    assert Booking.objects.filter(user=guest).count() == 3
