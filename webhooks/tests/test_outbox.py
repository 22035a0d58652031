"""The outbox in-process: what is written with each change, what a rollback leaves, and the
delivery rules that need no worker (addresses at delivery, attempts, backoff, retention)."""

from __future__ import annotations

import io
import json
import random
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction

from accounts.tests.factories import HostFactory, UserFactory
from bookings.errors import SlotInPastError
from bookings.services import booking_cancel, booking_create
from core.db.instants import now_ms
from core.errors import ValidationFailedError
from slots.models import Slot
from slots.services import slot_create
from slots.tests.factories import SlotFactory
from slots.webhooks import slot_webhook_emit
from webhooks.models import (
    DeliveryStatus,
    EventType,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from webhooks.services import (
    AttemptOutcome,
    retry_delay,
    webhook_delivery_attempt,
    webhook_endpoint_create,
    webhook_prune,
)
from webhooks.tests.conftest import Receiver

pytestmark = pytest.mark.django_db

ALL = [str(t) for t in EventType]


@pytest.fixture(autouse=True)
def loopback_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True


def endpoint_for(user, url="http://127.0.0.1:9/hook", events=ALL) -> WebhookEndpoint:
    return webhook_endpoint_create(owner_id=user.pk, url=url, events=events)


def test_the_event_types_include_reschedule_and_waitlist_offers():
    assert [str(t) for t in EventType] == [
        "booking.created",
        "booking.cancelled",
        "booking.rescheduled",
        "slot.created",
        "slot.cancelled",
        "waitlist.offered",
    ]


def test_a_booking_writes_one_event_with_a_delivery_per_interested_endpoint(guest):
    host = HostFactory.create()
    slot = SlotFactory.create(host=host)
    mine, hosts = endpoint_for(guest), endpoint_for(host)
    endpoint_for(UserFactory.create())  # a bystander
    endpoint_for(guest, events=["slot.created"])  # the guest, but not for bookings
    staff = UserFactory.create(is_staff=True)
    everything = webhook_endpoint_create(
        owner_id=staff.pk, url="http://127.0.0.1:9/", events=[], all_events=True, staff=True
    )

    booking = booking_create(user_id=guest.pk, slot_id=slot.pk)

    event = WebhookEvent.objects.get()
    assert event.type == "booking.created"
    deliveries = WebhookDelivery.objects.filter(event=event)
    assert {d.endpoint_id for d in deliveries} == {mine.pk, hosts.pk, everything.pk}
    assert {d.status for d in deliveries} == {DeliveryStatus.PENDING}
    assert all(d.next_attempt_at == event.created_at for d in deliveries)
    assert f'"id":"{booking.pk}"' in event.body


def test_an_inactive_endpoint_gets_no_new_deliveries(guest):
    endpoint = endpoint_for(guest)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False, deactivated_at=now_ms())

    booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)

    assert WebhookEvent.objects.count() == 1
    assert not WebhookDelivery.objects.exists()


def test_cancelling_and_slot_changes_write_their_events(guest):
    host = HostFactory.create()
    endpoint_for(host)
    start = now_ms() + timedelta(days=2)
    slot = slot_create(host_id=host.pk, start_time=start, end_time=start + timedelta(hours=1))
    booking = booking_create(user_id=guest.pk, slot_id=slot.pk)
    booking_cancel(booking_id=booking.pk, actor_id=guest.pk)

    types = list(WebhookEvent.objects.order_by("created_at", "id").values_list("type", flat=True))

    assert sorted(types) == ["booking.cancelled", "booking.created", "slot.created"]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_leaves_no_event_and_no_delivery():
    host = HostFactory.create()
    endpoint_for(host)
    slot = SlotFactory.create(host=host)

    inside: list[int] = []

    def change_that_fails() -> None:
        with transaction.atomic():
            slot_webhook_emit(slots=[slot], type=EventType.SLOT_CREATED)
            inside.append(WebhookEvent.objects.count())  # written inside the transaction…
            raise RuntimeError("the change fails after its event was written")

    with pytest.raises(RuntimeError):
        change_that_fails()

    assert inside == [1]

    assert not WebhookEvent.objects.exists()  # …and gone with it
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_failed_requests_write_no_outbox_rows(api_as, guest):
    host = HostFactory.create()
    endpoint_for(guest)
    endpoint_for(host)
    past = SlotFactory.create(
        host=host, start_time=now_ms() - timedelta(hours=2), end_time=now_ms() - timedelta(hours=1)
    )
    soon = SlotFactory.create(
        host=host,
        start_time=now_ms() + timedelta(minutes=30),
        end_time=now_ms() + timedelta(hours=1),
    )
    booking = booking_create(user_id=guest.pk, slot_id=soon.pk)
    before = WebhookEvent.objects.count()

    with pytest.raises(SlotInPastError):
        booking_create(user_id=guest.pk, slot_id=past.pk)
    refused = api_as(guest).delete(f"/api/bookings/{booking.pk}")  # inside the cutoff
    overlapping = api_as(host).post_json(
        "/api/slots",
        {"startTime": soon.start_time.isoformat(), "endTime": soon.end_time.isoformat()},
    )
    with pytest.raises(ValidationFailedError):
        slot_create(host_id=host.pk, start_time=now_ms() - timedelta(hours=1), end_time=now_ms())

    assert refused.json()["error"]["reason"] == "CANCELLATION_WINDOW_CLOSED"
    assert overlapping.json()["error"]["reason"] == "SLOT_OVERLAP"
    assert WebhookEvent.objects.count() == before


def test_a_name_that_resolves_to_loopback_is_refused_at_delivery_and_the_attempt_logged(
    guest, settings
):
    receiver = Receiver(port=9)
    endpoint = endpoint_for(guest, url=f"http://localhost:{receiver.port}/hook")
    booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False  # what is checked is the answer of now

    outcome = webhook_delivery_attempt(delivery_id=delivery.pk)

    assert outcome == AttemptOutcome.RETRY_SCHEDULED
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code is None
    assert "a private, loopback or link-local address" in attempt.error
    assert "127.0.0.1" in attempt.error or "::1" in attempt.error
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.next_attempt_at is not None
    assert delivery.next_attempt_at > now_ms() + timedelta(seconds=50)


def test_a_refused_connection_is_logged_and_retried_until_max_attempts_then_failed(guest, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    endpoint = endpoint_for(guest, url="http://127.0.0.1:9/closed")  # nothing listens on 9
    booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)

    outcomes = []
    for _ in range(3):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=now_ms())
        outcomes.append(webhook_delivery_attempt(delivery_id=delivery.pk))

    assert outcomes == [AttemptOutcome.RETRY_SCHEDULED] * 2 + [AttemptOutcome.FAILED]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.next_attempt_at) == (DeliveryStatus.FAILED, None)
    errors = list(delivery.attempts.order_by("number").values_list("error", flat=True))
    assert len(errors) == 3
    assert all(error.startswith("ConnectError") for error in errors)
    assert webhook_delivery_attempt(delivery_id=delivery.pk) == AttemptOutcome.NOT_DUE


def test_an_attempt_not_yet_due_is_not_made(guest):
    endpoint = endpoint_for(guest)
    booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=now_ms() + timedelta(minutes=1)
    )

    assert webhook_delivery_attempt(delivery_id=delivery.pk) == AttemptOutcome.NOT_DUE
    assert not WebhookAttempt.objects.exists()


def test_the_backoff_doubles_from_one_minute_to_six_hours_with_ten_percent_jitter():
    rng = random.Random(7)
    for attempt in range(2, 21):
        expected = min(2 ** (attempt - 2), 360)
        for _ in range(50):
            minutes = retry_delay(attempt, rng=rng).total_seconds() / 60
            assert expected * 0.9 <= minutes <= expected * 1.1
    total = sum((retry_delay(n, rng=random.Random(0)) for n in range(2, 21)), timedelta())
    assert timedelta(days=2, hours=12) < total < timedelta(days=3, hours=6)  # "about 3 days"


def test_the_delivery_log_is_kept_30_days(guest):
    endpoint = endpoint_for(guest)
    booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    old, recent = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("created_at")
    long_ago = now_ms() - timedelta(days=31)
    WebhookDelivery.objects.filter(pk=old.pk).update(
        status=DeliveryStatus.SUCCEEDED, next_attempt_at=None, created_at=long_ago
    )
    WebhookEvent.objects.filter(pk=old.event_id).update(created_at=long_ago)
    WebhookAttempt.objects.create(delivery=old, number=1, status_code=200, created_at=long_ago)

    deleted = webhook_prune()

    assert deleted >= 3
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [recent.pk]
    assert list(WebhookEvent.objects.values_list("pk", flat=True)) == [recent.event_id]
    assert not WebhookAttempt.objects.exists()


def test_deleting_a_slot_without_history_announces_it_as_cancelled(guest):
    host = HostFactory.create()
    endpoint_for(host)
    slot = SlotFactory.create(host=host)
    from slots.services import slot_delete

    slot_delete(user_id=host.pk, slot_id=slot.pk)

    event = WebhookEvent.objects.get(type="slot.cancelled")
    assert f'"id":"{slot.pk}"' in event.body
    assert '"status":"CANCELLED"' in event.body
    assert not Slot.objects.filter(pk=slot.pk).exists()


def test_the_deliveries_endpoint_lists_each_delivery_with_its_attempts(api_as, guest):
    endpoint = endpoint_for(guest, url="http://127.0.0.1:9/closed")
    booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    older, newer = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("created_at", "id")
    webhook_delivery_attempt(delivery_id=older.pk)

    response = api_as(guest).get(f"/api/webhooks/{endpoint.pk}/deliveries")

    body = response.json()
    assert response.status_code == 200
    assert body["meta"] == {"page": 1, "limit": 20, "total": 2}
    listed = {item["id"]: item for item in body["data"]}
    assert set(listed) == {str(older.pk), str(newer.pk)}
    first = listed[str(older.pk)]
    assert first["eventType"] == "booking.created"
    assert first["eventId"] == str(older.event_id)
    assert (first["status"], first["attemptCount"]) == ("PENDING", 1)
    (attempt,) = first["attempts"]
    assert attempt["number"] == 1
    assert attempt["statusCode"] is None
    assert attempt["error"].startswith("ConnectError")
    assert attempt["durationMs"] >= 0
    assert listed[str(newer.pk)]["attempts"] == []


def test_a_name_is_sent_in_host_while_the_request_goes_to_the_address_checked(guest, receiver):
    endpoint = endpoint_for(guest, url=f"http://localhost:{receiver.port}/named?x=1")
    receiver.secrets["/named"] = endpoint.secret
    booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)

    outcome = webhook_delivery_attempt(delivery_id=delivery.pk)

    assert outcome == AttemptOutcome.SUCCEEDED
    (got,) = receiver.at("/named")
    assert got.headers["Host"] == f"localhost:{receiver.port}"
    assert got.verified


def test_the_cleanup_command_prunes_the_webhook_log_too(guest):
    endpoint = endpoint_for(guest)
    booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    long_ago = now_ms() - timedelta(days=31)
    WebhookDelivery.objects.filter(endpoint=endpoint).update(
        status=DeliveryStatus.FAILED, next_attempt_at=None, created_at=long_ago
    )
    WebhookEvent.objects.update(created_at=long_ago)
    out = io.StringIO()

    call_command("cleanup", stdout=out)

    assert "webhook log rows older than 30 days deleted" in out.getvalue()
    assert not WebhookDelivery.objects.exists()
    assert not WebhookEvent.objects.exists()


def test_a_reschedule_announces_the_moved_booking_and_the_slot_it_left(guest):
    from bookings.reschedule import booking_reschedule

    old_host, new_host = HostFactory.create(), HostFactory.create()
    old_slot = SlotFactory.create(host=old_host)
    new_slot = SlotFactory.create(host=new_host)
    guests, olds, news = endpoint_for(guest), endpoint_for(old_host), endpoint_for(new_host)
    booking = booking_create(user_id=guest.pk, slot_id=old_slot.pk)

    booking_reschedule(booking_id=booking.pk, user_id=guest.pk, slot_id=new_slot.pk)

    event = WebhookEvent.objects.get(type="booking.rescheduled")
    body = json.loads(event.body)
    assert body["data"]["booking"]["id"] == str(booking.pk)
    assert body["data"]["booking"]["slotId"] == str(new_slot.pk)
    assert body["data"]["previousSlot"]["id"] == str(old_slot.pk)
    assert body["data"]["previousSlot"]["status"] == "AVAILABLE"
    delivered_to = set(
        WebhookDelivery.objects.filter(event=event).values_list("endpoint_id", flat=True)
    )
    assert delivered_to == {guests.pk, olds.pk, news.pk}


def test_a_freed_place_offered_to_the_waitlist_announces_the_offer_to_that_user_only(guest):
    from bookings.waitlist import waitlist_join

    slot = SlotFactory.create()
    first, second = UserFactory.create_batch(2)
    mine, theirs = endpoint_for(first), endpoint_for(second)
    booking = booking_create(user_id=guest.pk, slot_id=slot.pk)
    waitlist_join(user_id=first.pk, slot_id=slot.pk)
    waitlist_join(user_id=second.pk, slot_id=slot.pk)

    booking_cancel(booking_id=booking.pk, actor_id=guest.pk)

    event = WebhookEvent.objects.get(type="waitlist.offered")
    body = json.loads(event.body)
    assert body["data"]["entry"]["userId"] == str(first.pk)
    assert body["data"]["entry"]["status"] == "OFFERED"
    assert body["data"]["hold"]["id"] == body["data"]["entry"]["holdId"]
    assert body["data"]["hold"]["slotId"] == str(slot.pk)
    delivered_to = set(
        WebhookDelivery.objects.filter(event=event).values_list("endpoint_id", flat=True)
    )
    assert delivered_to == {mine.pk}
    assert theirs.pk not in delivered_to
