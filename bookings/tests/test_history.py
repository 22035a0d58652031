"""GET /api/bookings/{id}/history (SPEC §10.6) and the reason of DELETE /api/bookings/{id}."""

from __future__ import annotations

import json

import pytest

from accounts.services import staff_create
from accounts.tests.factories import UserFactory, token_for
from bookings.services import booking_create
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db

KEYS = [
    "id",
    "createdAt",
    "bookingId",
    "action",
    "actorId",
    "source",
    "oldStatus",
    "newStatus",
    "oldSlotId",
    "newSlotId",
    "reason",
    "requestId",
    "idempotencyKey",
]


def test_guest_cancels_with_a_reason_and_sees_the_history_in_order(api_as, guest):
    slot = SlotFactory.create()
    booking = booking_create(user_id=guest.pk, slot_id=slot.pk, actor_id=guest.pk)
    api = api_as(guest)
    response = api.generic(
        "DELETE", f"/api/bookings/{booking.pk}", json.dumps({"reason": "plans changed"})
    )
    assert response.status_code == 200, response.content

    response = api.get(f"/api/bookings/{booking.pk}/history")
    assert response.status_code == 200
    body = response.json()
    assert body["meta"] == {"page": 1, "limit": 20, "total": 2}
    created, cancelled = body["data"]
    assert list(created) == KEYS
    assert (created["action"], created["oldStatus"], created["newStatus"]) == (
        "CREATED",
        None,
        "CONFIRMED",
    )
    assert cancelled["action"] == "CANCELLED"
    assert cancelled["actorId"] == str(guest.pk)
    assert cancelled["source"] == "api"
    assert cancelled["reason"] == "plans changed"
    assert cancelled["newSlotId"] == str(slot.pk)
    assert cancelled["requestId"]


def test_a_reason_over_500_characters_is_a_validation_error(api_as, guest):
    booking = booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    response = api_as(guest).generic(
        "DELETE", f"/api/bookings/{booking.pk}", json.dumps({"reason": "x" * 501})
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"] == [
        {"path": "reason", "message": "Reason must be at most 500 characters"}
    ]


def test_history_access_is_that_of_the_booking(api, api_as, guest):
    slot = SlotFactory.create()
    booking = booking_create(user_id=guest.pk, slot_id=slot.pk)
    url = f"/api/bookings/{booking.pk}/history"
    assert api_as(slot.host).get(url).status_code == 200
    stranger = api_as(UserFactory.create()).get(url)
    assert stranger.status_code == 403
    assert stranger.json()["error"] == {
        "code": "FORBIDDEN",
        "reason": "NOT_OWNER",
        "message": "You can only view your own bookings",
    }
    staff, _ = staff_create(email="ops@example.com", name="Ops")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(staff)}")
    assert api.get(url).status_code == 200
    missing = api_as(guest).get("/api/bookings/00000000-0000-0000-0000-000000000000/history")
    assert missing.status_code == 404
    assert missing.json()["error"]["reason"] == "BOOKING_NOT_FOUND"
    assert api_as(None).get(url).status_code == 401
