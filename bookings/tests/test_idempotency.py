"""Idempotency-Key on POST /api/bookings, DELETE /api/bookings/{id} and POST /api/slots
(SPEC §8, §14 Idempotency), in sync mode. test_modes.py runs the booking cases in queued mode."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from accounts.tests.factories import UserFactory
from bookings.models import Booking, BookingEvent
from bookings.services import booking_create
from bookings.tasks import idempotency_prune_task
from bookings.tests.factories import post_booking
from conftest import Api
from core.db.instants import format_instant, now_ms
from core.idempotency.models import IdempotencyRecord, IdempotencyState
from core.idempotency.records import (
    ClaimLostError,
    IdempotencyClaim,
    idempotency_claim,
    request_fingerprint,
)
from slotbooking.tests.envelopes import assert_error
from slots.locks import slot_lock
from slots.models import Slot
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db

KEY = "order-7f3a"


def slot_body(hours: int) -> dict[str, str]:
    start = now_ms().replace(second=0, microsecond=0) + timedelta(hours=hours)
    return {
        "startTime": format_instant(start),
        "endTime": format_instant(start + timedelta(hours=1)),
    }


# Replay -------------------------------------------------------------------------------------------
def test_repeating_a_booking_with_its_key_replays_the_same_bytes_and_books_once(api, guest):
    slot = SlotFactory.create()
    api.as_user(guest)

    first = post_booking(api, None, slot, HTTP_IDEMPOTENCY_KEY=KEY)
    second = post_booking(api, None, slot, HTTP_IDEMPOTENCY_KEY=KEY)

    assert first.status_code == 201, first.content
    assert "Idempotent-Replayed" not in first.headers
    assert second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.content == first.content
    assert second.headers["Content-Type"] == first.headers["Content-Type"]
    assert Booking.objects.filter(slot=slot).count() == 1
    record = IdempotencyRecord.objects.get(user=guest, key=KEY)
    assert record.state == IdempotencyState.COMPLETED
    assert record.response_status == 201
    assert record.response_body is not None
    assert record.response_body.encode() == first.content


def test_a_booking_answer_is_the_same_with_and_without_a_key(api, guest):
    slots = SlotFactory.create_batch(2)
    api.as_user(guest)
    with_key = post_booking(api, None, slots[0], HTTP_IDEMPOTENCY_KEY=KEY).json()["data"]
    without = api.post_json("/api/bookings", {"slotId": str(slots[1].pk)}).json()["data"]

    assert list(with_key) == list(without)
    assert list(with_key["slot"]) == list(without["slot"])


def test_the_audit_event_carries_the_idempotency_key(api, guest):
    slot = SlotFactory.create()

    post_booking(api.as_user(guest), None, slot, HTTP_IDEMPOTENCY_KEY=KEY)

    event = BookingEvent.objects.get(booking__slot=slot)
    assert event.idempotency_key == KEY
    assert event.source == "api"


def test_a_business_4xx_is_stored_and_replayed_even_after_the_state_changed(api, guest, host):
    slot = SlotFactory.create(host=host)
    other = UserFactory.create()
    taken = booking_create(user_id=other.pk, slot_id=slot.pk)
    api.as_user(guest)

    first = post_booking(api, None, slot, HTTP_IDEMPOTENCY_KEY=KEY)
    api.as_user(other).delete(f"/api/bookings/{taken.pk}")  # the slot is free again
    second = post_booking(api.as_user(guest), None, slot, HTTP_IDEMPOTENCY_KEY=KEY)

    assert_error(first, 409, "CONFLICT", "SLOT_NOT_AVAILABLE", "Slot is no longer available")
    assert second.status_code == 409
    assert second.content == first.content
    assert second.headers["Idempotent-Replayed"] == "true"
    assert not Booking.objects.filter(slot=slot, user=guest).exists()


def test_a_rule_failure_under_the_locks_is_stored_and_writes_nothing(api, host):
    slot = SlotFactory.create(host=host)

    first = post_booking(api.as_user(host), None, slot, HTTP_IDEMPOTENCY_KEY=KEY)
    second = post_booking(api, None, slot, HTTP_IDEMPOTENCY_KEY=KEY)

    assert_error(first, 400, "BAD_REQUEST", "BOOKING_OWN_SLOT", "You cannot book your own slot")
    assert second.content == first.content
    assert second.headers["Idempotent-Replayed"] == "true"
    assert not Booking.objects.exists()
    assert IdempotencyRecord.objects.get(key=KEY).response_status == 400


# Reuse and format ---------------------------------------------------------------------------------
def test_the_same_key_with_another_body_answers_422_idempotency_key_reused(api, guest):
    slots = SlotFactory.create_batch(2)
    api.as_user(guest)
    post_booking(api, None, slots[0], HTTP_IDEMPOTENCY_KEY=KEY)

    response = post_booking(api, None, slots[1], HTTP_IDEMPOTENCY_KEY=KEY)

    assert_error(
        response,
        422,
        "UNPROCESSABLE_ENTITY",
        "IDEMPOTENCY_KEY_REUSED",
        "Idempotency-Key was already used for a different request",
    )
    assert not Booking.objects.filter(slot=slots[1]).exists()


def test_the_same_key_on_another_endpoint_answers_422(api, host):
    slot = SlotFactory.create()
    api.as_user(host)
    post_booking(api, None, slot, HTTP_IDEMPOTENCY_KEY=KEY)

    response = api.post_json("/api/slots", slot_body(48), HTTP_IDEMPOTENCY_KEY=KEY)

    assert response.status_code == 422
    assert response.json()["error"]["reason"] == "IDEMPOTENCY_KEY_REUSED"


def test_key_order_and_whitespace_of_the_body_do_not_change_the_fingerprint():
    one = request_fingerprint(method="POST", route="/api/slots", body={"a": 1, "b": [1, 2]})
    two = request_fingerprint(method="post", route="/api/slots", body={"b": [1, 2], "a": 1})
    other = request_fingerprint(method="POST", route="/api/bookings", body={"a": 1, "b": [1, 2]})
    assert one == two
    assert one != other


@pytest.mark.parametrize("key", ["", "a b", "x" * 256, "clé", "tab\tkey"])
def test_an_invalid_key_answers_400_invalid_idempotency_key(api, guest, key):
    slot = SlotFactory.create()

    response = post_booking(api.as_user(guest), None, slot, HTTP_IDEMPOTENCY_KEY=key)

    assert_error(
        response,
        400,
        "VALIDATION_ERROR",
        "INVALID_IDEMPOTENCY_KEY",
        "Idempotency-Key must be 1 to 255 printable ASCII characters",
    )
    assert not Booking.objects.exists()


def test_a_key_of_255_printable_characters_is_accepted(api, guest):
    slot = SlotFactory.create()

    response = post_booking(api.as_user(guest), None, slot, HTTP_IDEMPOTENCY_KEY="~" * 255)

    assert response.status_code == 201


def test_body_parsing_comes_before_the_key_and_the_key_before_validation(api, guest):
    api.as_user(guest)

    malformed = api.generic(
        "POST", "/api/bookings", "{oops", "application/json", HTTP_IDEMPOTENCY_KEY="a b"
    )
    invalid = api.post_json("/api/bookings", {"slotId": 5}, HTTP_IDEMPOTENCY_KEY="a b")

    assert malformed.json()["error"]["reason"] == "MALFORMED_JSON"
    assert invalid.json()["error"]["reason"] == "INVALID_IDEMPOTENCY_KEY"


def test_authentication_comes_before_the_key(api):
    response = api.post_json("/api/bookings", {}, HTTP_IDEMPOTENCY_KEY="a b")

    assert response.status_code == 401
    assert not IdempotencyRecord.objects.exists()


# What is not stored -------------------------------------------------------------------------------
def test_a_validation_failure_releases_the_claim(api, guest):
    api.as_user(guest)

    first = api.post_json("/api/bookings", {"slotId": "nope"}, HTTP_IDEMPOTENCY_KEY=KEY)
    second = api.post_json("/api/bookings", {"slotId": "nope"}, HTTP_IDEMPOTENCY_KEY=KEY)

    assert first.json()["error"]["reason"] == "VALIDATION_FAILED"
    assert "Idempotent-Replayed" not in second.headers
    assert not IdempotencyRecord.objects.exists()


# Scope and lifetime -------------------------------------------------------------------------------
def test_keys_are_scoped_per_user(api):
    slots = SlotFactory.create_batch(2)
    alice, bob = UserFactory.create_batch(2)

    first = post_booking(api.as_user(alice), None, slots[0], HTTP_IDEMPOTENCY_KEY=KEY)
    second = post_booking(api.as_user(bob), None, slots[1], HTTP_IDEMPOTENCY_KEY=KEY)

    assert first.status_code == second.status_code == 201
    assert IdempotencyRecord.objects.filter(key=KEY).count() == 2


def test_an_expired_key_counts_as_new(api, guest, settings):
    slots = SlotFactory.create_batch(2)
    api.as_user(guest)
    post_booking(api, None, slots[0], HTTP_IDEMPOTENCY_KEY=KEY)
    day_ago = now_ms() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS, seconds=1)
    IdempotencyRecord.objects.filter(key=KEY).update(created_at=day_ago)

    response = post_booking(
        api, None, slots[1], HTTP_IDEMPOTENCY_KEY=KEY
    )  # another body: a live record would answer 422

    assert response.status_code == 201, response.content
    assert "Idempotent-Replayed" not in response.headers
    assert Booking.objects.filter(user=guest).count() == 2


def test_cleanup_and_the_periodic_task_prune_expired_records_only(guest, settings, capsys):
    old = now_ms() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS, minutes=1)
    for key in ("old-1", "old-2", "fresh"):
        idempotency_claim(user_id=guest.pk, key=key, fingerprint="f")
    IdempotencyRecord.objects.filter(key__startswith="old").update(created_at=old)

    call_command("cleanup")
    assert "2 expired idempotency records deleted" in capsys.readouterr().out
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]

    IdempotencyRecord.objects.update(created_at=old)
    assert idempotency_prune_task() == 1
    assert not IdempotencyRecord.objects.exists()


# Claims in flight ---------------------------------------------------------------------------------
def test_a_duplicate_while_the_first_is_in_progress_answers_409_with_retry_after(api, guest):
    slot = SlotFactory.create()
    fingerprint = request_fingerprint(
        method="POST", route="/api/bookings", body={"slotId": str(slot.pk)}
    )
    idempotency_claim(user_id=guest.pk, key=KEY, fingerprint=fingerprint)  # the first one

    response = post_booking(api.as_user(guest), None, slot, HTTP_IDEMPOTENCY_KEY=KEY)

    assert_error(
        response,
        409,
        "CONFLICT",
        "IDEMPOTENCY_KEY_IN_PROGRESS",
        "A request with this Idempotency-Key is still in progress",
    )
    assert response.headers["Retry-After"] == "1"
    assert not Booking.objects.exists()


def test_an_abandoned_claim_is_taken_over_and_its_old_attempt_can_write_nothing(
    api, guest, settings
):
    slot = SlotFactory.create()
    fingerprint = request_fingerprint(
        method="POST", route="/api/bookings", body={"slotId": str(slot.pk)}
    )
    abandoned = idempotency_claim(user_id=guest.pk, key=KEY, fingerprint=fingerprint)
    assert isinstance(abandoned, IdempotencyClaim)
    long_ago = now_ms() - timedelta(seconds=settings.IDEMPOTENCY_CLAIM_TTL + 1)
    IdempotencyRecord.objects.filter(key=KEY).update(claimed_at=long_ago)

    response = post_booking(api.as_user(guest), None, slot, HTTP_IDEMPOTENCY_KEY=KEY)

    assert response.status_code == 201, response.content
    record = IdempotencyRecord.objects.get(key=KEY)
    assert record.attempt != abandoned.attempt
    abandoned.render = lambda booking: pytest.fail("a stale attempt must not write")
    with pytest.raises(ClaimLostError) as lost:
        booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk, idempotency=abandoned)
    assert lost.value.outcome is not None
    assert lost.value.outcome.body.encode() == response.content
    assert Booking.objects.count() == 1


# DELETE /api/bookings/{id} and POST /api/slots ----------------------------------------------------
def test_repeating_a_cancellation_with_its_key_replays_200_instead_of_409(api, guest):
    booking = booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    api.as_user(guest)

    first = api.delete(f"/api/bookings/{booking.pk}", HTTP_IDEMPOTENCY_KEY=KEY)
    second = api.delete(f"/api/bookings/{str(booking.pk).upper()}", HTTP_IDEMPOTENCY_KEY=KEY)
    third = api.delete(f"/api/bookings/{booking.pk}")

    assert first.status_code == 200, first.content
    assert first.json()["data"]["status"] == "CANCELLED"
    assert second.status_code == 200
    assert second.content == first.content
    assert second.headers["Idempotent-Replayed"] == "true"
    assert third.json()["error"]["reason"] == "BOOKING_ALREADY_CANCELLED"
    assert BookingEvent.objects.filter(booking=booking, action="CANCELLED").count() == 1


def test_a_cancellation_key_reused_on_another_booking_answers_422(api, guest):
    one, two = (booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk) for _ in range(2))
    api.as_user(guest)
    api.delete(f"/api/bookings/{one.pk}", HTTP_IDEMPOTENCY_KEY=KEY)

    response = api.delete(f"/api/bookings/{two.pk}", HTTP_IDEMPOTENCY_KEY=KEY)

    assert response.status_code == 422


def test_a_cancellation_of_someone_elses_booking_is_stored_as_403(api, guest):
    booking = booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    api.as_user(UserFactory.create())

    first = api.delete(f"/api/bookings/{booking.pk}", HTTP_IDEMPOTENCY_KEY=KEY)
    second = api.delete(f"/api/bookings/{booking.pk}", HTTP_IDEMPOTENCY_KEY=KEY)

    assert first.status_code == 403
    assert second.content == first.content
    assert second.headers["Idempotent-Replayed"] == "true"


def test_repeating_a_slot_creation_with_its_key_creates_one_slot(api, host):
    api.as_user(host)
    body = slot_body(24)

    first = api.post_json("/api/slots", body, HTTP_IDEMPOTENCY_KEY=KEY)
    second = api.post_json("/api/slots", body, HTTP_IDEMPOTENCY_KEY=KEY)

    assert first.status_code == 201, first.content
    assert second.status_code == 201
    assert second.content == first.content
    assert second.headers["Idempotent-Replayed"] == "true"
    assert Slot.objects.filter(host=host).count() == 1


def test_a_slot_creation_by_a_guest_is_stored_as_403_and_a_past_slot_is_not_stored(api, guest):
    api.as_user(guest)

    forbidden = api.post_json("/api/slots", slot_body(24), HTTP_IDEMPOTENCY_KEY="k1")
    past = api.post_json("/api/slots", slot_body(-2), HTTP_IDEMPOTENCY_KEY="k2")

    assert forbidden.json()["error"]["reason"] == "NOT_A_HOST"
    assert past.json()["error"]["reason"] == "VALIDATION_FAILED"
    assert list(IdempotencyRecord.objects.values_list("key", "response_status")) == [("k1", 403)]


# Real concurrency ---------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_concurrent_duplicate_answers_409_in_progress_and_books_once(settings):
    settings.BOOKING_TEST_DELAY_BEFORE_WRITE = 1.0  # the first one holds its claim a while
    guest = UserFactory.create()
    slot = SlotFactory.create()
    answers: dict[str, Any] = {}

    def first() -> None:
        answers["first"] = post_booking(Api().as_user(guest), None, slot, HTTP_IDEMPOTENCY_KEY=KEY)
        connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    deadline = now_ms() + timedelta(seconds=5)
    while not IdempotencyRecord.objects.filter(key=KEY).exists() and now_ms() < deadline:
        pass  # until the first one has claimed the key
    second = post_booking(Api().as_user(guest), None, slot, HTTP_IDEMPOTENCY_KEY=KEY)
    thread.join(10)

    assert answers["first"].status_code == 201
    assert second.status_code == 409
    assert second.json()["error"]["reason"] == "IDEMPOTENCY_KEY_IN_PROGRESS"
    assert second.headers["Retry-After"] == "1"
    assert Booking.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_5xx_is_not_stored_and_the_retry_with_the_key_runs_again(settings):
    settings.BOOKING_LOCK_TIMEOUT = 0.3
    guest = UserFactory.create()
    slot = SlotFactory.create()
    locked, release = threading.Event(), threading.Event()

    def hold_the_slot() -> None:
        with transaction.atomic():
            slot_lock(slot_id=slot.pk)
            locked.set()
            release.wait(10)
        connection.close()

    holder = threading.Thread(target=hold_the_slot)
    holder.start()
    locked.wait(5)
    first = post_booking(Api().as_user(guest), None, slot, HTTP_IDEMPOTENCY_KEY=KEY)
    release.set()
    holder.join(10)
    second = post_booking(Api().as_user(guest), None, slot, HTTP_IDEMPOTENCY_KEY=KEY)

    assert first.status_code == 503
    assert first.json()["error"]["reason"] == "LOCK_TIMEOUT"
    assert second.status_code == 201, second.content
    assert "Idempotent-Replayed" not in second.headers
    assert Booking.objects.count() == 1
    body = IdempotencyRecord.objects.get(key=KEY).response_body
    assert body is not None
    stored = json.loads(body)
    assert stored["data"]["slotId"] == str(slot.pk)
