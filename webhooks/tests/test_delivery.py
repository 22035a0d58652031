"""Webhook delivery end to end: real PostgreSQL, Redis, a default-queue worker subprocess and an
HTTP receiver on 127.0.0.1 (SPEC §12.7). No mocks: every event comes from a real change."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.tests.factories import HostFactory, UserFactory
from bookings.models import Booking, BookingStatus
from bookings.services import booking_create
from core.db.instants import format_instant, now_ms
from slotbooking.tests.admin import staff_client
from slots.models import Slot
from slots.tests.factories import SlotFactory
from webhooks.models import DeliveryStatus, EventType, WebhookDelivery, WebhookEvent
from webhooks.sending import USER_AGENT
from webhooks.services import webhook_endpoint_create
from webhooks.tasks import webhook_sweep_task
from webhooks.tests.conftest import WORKER_TIMEOUT, Receiver, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

BUILT = [
    EventType.BOOKING_CREATED,
    EventType.BOOKING_CANCELLED,
    EventType.SLOT_CREATED,
    EventType.SLOT_CANCELLED,
]


def register(owner, receiver: Receiver, path: str, events=BUILT, *, all_events=False):
    endpoint = webhook_endpoint_create(
        owner_id=owner.pk,
        url=receiver.url(path),
        events=[str(e) for e in events],
        all_events=all_events,
        staff=all_events,
    )
    receiver.secrets[path] = endpoint.secret
    return endpoint


def distinct_events(receiver: Receiver, path: str, count: int, timeout: float = 30):
    """The first request of each of `count` different events at `path`, in arrival order.
    Delivery is at least once: an attempt that timed out on a busy machine is sent again with
    the same event id, so tests that count events count ids, not requests."""

    def ready():
        first: dict[str, object] = {}
        for request in receiver.at(path):
            first.setdefault(request.json["id"], request)
        return len(first) >= count and list(first.values())

    return wait_for(ready, timeout=timeout, what=f"{count} event(s) at {path}")


def received(receiver: Receiver, path: str, count: int = 1, timeout: float = 30):
    return wait_for(
        lambda: len(receiver.at(path)) >= count and receiver.at(path),
        timeout=timeout,
        what=f"{count} request(s) at {path}",
    )


def delivery_of(endpoint) -> WebhookDelivery:
    return WebhookDelivery.objects.select_related("event").get(endpoint=endpoint)


def settled(endpoint, status=DeliveryStatus.SUCCEEDED, count: int = 1):
    return wait_for(
        lambda: WebhookDelivery.objects.filter(endpoint=endpoint, status=status).count() >= count,
        what=f"{count} {status} deliveries",
    )


def sweep_now() -> None:
    """What beat does every 30 s, published to the real worker now."""
    webhook_sweep_task.apply_async(queue="default")


def test_a_booking_through_the_api_is_delivered_signed_to_the_guests_and_the_hosts_endpoints(
    api_as, guest, receiver, webhook_worker
):
    host = HostFactory.create()
    slot = SlotFactory.create(host=host)
    register(guest, receiver, "/guest")
    register(host, receiver, "/host")
    bystander = register(UserFactory.create(), receiver, "/bystander")

    response = api_as(guest).post_json("/api/bookings", {"slotId": str(slot.pk)})

    assert response.status_code == 201, response.content
    event = WebhookEvent.objects.get()
    for path in ("/guest", "/host"):
        (got,) = received(receiver, path)
        assert got.verified, got.headers
        assert got.headers["Content-Type"] == "application/json"
        assert got.headers["User-Agent"] == USER_AGENT
        assert got.headers["X-SlotBooking-Event"] == "booking.created"
        assert got.headers["X-SlotBooking-Event-Id"] == str(event.pk)
        assert got.headers["Host"] == f"127.0.0.1:{receiver.port}"
        assert got.body == event.body.encode()
        assert set(got.json) == {"id", "type", "createdAt", "data"}
        assert got.json["id"] == str(event.pk)
        assert got.json["type"] == "booking.created"
        assert got.json["createdAt"] == format_instant(event.created_at)
        assert got.json["data"] == response.json()["data"]  # the Booking, as the API shows it
    assert not WebhookDelivery.objects.filter(endpoint=bystander).exists()
    assert receiver.at("/bystander") == []


def test_every_event_type_is_delivered_for_changes_made_through_the_api(
    api_as, guest, receiver, webhook_worker
):
    host = HostFactory.create()
    register(host, receiver, "/host")
    start = now_ms() + timedelta(days=3)

    slot = (
        api_as(host)
        .post_json(
            "/api/slots",
            {
                "startTime": format_instant(start),
                "endTime": format_instant(start + timedelta(hours=1)),
            },
        )
        .json()["data"]
    )
    free = (
        api_as(host)
        .post_json(
            "/api/slots",
            {
                "startTime": format_instant(start + timedelta(hours=2)),
                "endTime": format_instant(start + timedelta(hours=3)),
            },
        )
        .json()["data"]
    )
    booking = api_as(guest).post_json("/api/bookings", {"slotId": slot["id"]}).json()["data"]
    cancelled = api_as(guest).delete(f"/api/bookings/{booking['id']}").json()["data"]
    assert api_as(host).delete(f"/api/slots/{slot['id']}").status_code == 200  # had history
    assert api_as(host).delete(f"/api/slots/{free['id']}").status_code == 200  # none: deleted

    got = distinct_events(receiver, "/host", 6)
    by_type: dict[str, list] = {}
    for request in got:
        assert request.verified
        by_type.setdefault(request.json["type"], []).append(request.json["data"])
    # Delivery is in no guaranteed order: compare the sets.
    assert sorted(s["id"] for s in by_type["slot.created"]) == sorted([slot["id"], free["id"]])
    assert by_type["booking.created"][0]["id"] == booking["id"]
    assert by_type["booking.cancelled"] == [cancelled]
    assert sorted(s["id"] for s in by_type["slot.cancelled"]) == sorted([slot["id"], free["id"]])
    assert {s["status"] for s in by_type["slot.cancelled"]} == {"CANCELLED"}
    assert not Slot.objects.filter(pk=free["id"]).exists()


def test_reschedules_and_waitlist_offers_are_delivered_for_changes_made_through_the_api(
    api_as, guest, receiver, webhook_worker
):
    host, waiting = HostFactory.create(), UserFactory.create()
    register(guest, receiver, "/guest", events=list(EventType))
    register(waiting, receiver, "/waiting", events=list(EventType))
    first, second = SlotFactory.create(host=host), SlotFactory.create(host=host)
    booking = api_as(guest).post_json("/api/bookings", {"slotId": str(first.pk)}).json()["data"]
    joined = api_as(waiting).post_json(f"/api/slots/{first.pk}/waitlist", {})
    assert joined.status_code == 201, joined.content

    moved = api_as(guest).post_json(
        f"/api/bookings/{booking['id']}/reschedule", {"slotId": str(second.pk)}
    )

    assert moved.status_code == 200, moved.content
    got = distinct_events(receiver, "/guest", 2)
    assert all(request.verified for request in got)
    (rescheduled,) = [r.json for r in got if r.json["type"] == "booking.rescheduled"]
    assert rescheduled["data"]["booking"] == moved.json()["data"]
    assert rescheduled["data"]["previousSlot"]["id"] == str(first.pk)
    (offer,) = distinct_events(receiver, "/waiting", 1)
    assert offer.verified
    assert offer.json["type"] == "waitlist.offered"
    assert offer.json["data"]["entry"]["userId"] == str(waiting.pk)
    assert offer.json["data"]["hold"]["slotId"] == str(first.pk)


def test_every_event_type_is_delivered_for_changes_made_in_the_admin(
    client, guest, receiver, webhook_worker
):
    client, _ = staff_client(client)
    host = HostFactory.create()
    register(host, receiver, "/host")
    start = now_ms().replace(microsecond=0) + timedelta(days=4)
    form = {
        "host": host.pk,
        "start_time_0": start.strftime("%Y-%m-%d"),
        "start_time_1": start.strftime("%H:%M:%S"),
        "end_time_0": (start + timedelta(hours=1)).strftime("%Y-%m-%d"),
        "end_time_1": (start + timedelta(hours=1)).strftime("%H:%M:%S"),
        "capacity": 1,
    }
    assert client.post(reverse("admin:slots_slot_add"), form).status_code == 302
    slot = Slot.objects.get(host=host)
    added = client.post(reverse("admin:bookings_booking_add"), {"user": guest.pk, "slot": slot.pk})
    assert added.status_code == 302
    booking = Booking.objects.get(slot=slot)
    bookings = reverse("admin:bookings_booking_changelist")
    cancel = {"action": "cancel_with_reason", "_selected_action": [booking.pk], "apply": "1"}
    client.post(bookings, {**cancel, "reason": "host is ill"}, follow=True)
    slots = reverse("admin:slots_slot_changelist")
    client.post(slots, {"action": "cancel_or_delete", "_selected_action": [slot.pk]}, follow=True)

    got = distinct_events(receiver, "/host", 4)
    assert sorted(r.json["type"] for r in got) == sorted(str(e) for e in BUILT)
    assert all(r.verified for r in got)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED


def test_slot_created_is_delivered_for_slots_made_by_a_command(receiver, webhook_worker):
    host = HostFactory.create(email="cli-host@example.com")
    register(host, receiver, "/host")
    day = (now_ms() + timedelta(days=10)).date()

    call_command(
        "create_slots",
        f"--host={host.email}",
        f"--from={day.isoformat()}",
        f"--to={day.isoformat()}",
        f"--weekdays={day.strftime('%a').upper()[:3]}",
        "--times=09:00,11:00",
        "--duration=60",
        "--tz=UTC",
    )

    got = received(receiver, "/host", 2)
    assert [r.json["type"] for r in got] == ["slot.created", "slot.created"]
    created = {str(pk) for pk in Slot.objects.filter(host=host).values_list("pk", flat=True)}
    assert {r.json["data"]["id"] for r in got} == created


def test_an_all_events_endpoint_hears_of_changes_that_concern_other_users(
    api_as, guest, receiver, webhook_worker
):
    staff = UserFactory.create(is_staff=True)
    register(staff, receiver, "/all", events=[], all_events=True)
    slot = SlotFactory.create()

    api_as(guest).post_json("/api/bookings", {"slotId": str(slot.pk)})

    (got,) = received(receiver, "/all")
    assert got.json["type"] == "booking.created"


def test_500_then_200_is_retried_on_the_schedule_and_delivered_with_the_same_event_id(
    guest, receiver, webhook_worker
):
    endpoint = register(guest, receiver, "/flaky")
    receiver.script("/flaky", 500)
    slot = SlotFactory.create()

    booking_create(user_id=guest.pk, slot_id=slot.pk)

    received(receiver, "/flaky")
    wait_for(lambda: delivery_of(endpoint).attempts.filter(status_code=500).exists())
    delivery = wait_for(
        lambda: (d := delivery_of(endpoint)).next_attempt_at
        and d.attempt_count == 1
        and d.next_attempt_at < now_ms() + timedelta(minutes=5)
        and d
    )
    # Attempt 2 comes 2^0 = 1 minute after the first, ±10 %.
    first = delivery.attempts.get(number=1)
    wait = delivery.next_attempt_at - first.created_at
    assert timedelta(seconds=50) < wait < timedelta(seconds=70), wait
    assert delivery.status == DeliveryStatus.PENDING
    sweep_now()  # not due yet: nothing is sent
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=now_ms())  # time passes
    sweep_now()

    settled(endpoint)
    first_request, second_request = receiver.at("/flaky")
    assert first_request.json["id"] == second_request.json["id"] == str(delivery.event_id)
    assert first_request.body == second_request.body
    attempts = list(delivery_of(endpoint).attempts.order_by("number"))
    assert [(a.number, a.status_code, a.error) for a in attempts] == [(1, 500, ""), (2, 200, "")]
    assert attempts[0].response_body == "reply 500"
    assert all(a.duration_ms is not None for a in attempts)


def test_410_gone_deactivates_the_endpoint_and_nothing_more_is_sent_to_it(
    api_as, guest, receiver, webhook_worker
):
    endpoint = register(guest, receiver, "/gone")
    receiver.script("/gone", 410)

    booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)

    settled(endpoint, DeliveryStatus.FAILED)
    endpoint.refresh_from_db()
    assert endpoint.is_active is False
    assert endpoint.deactivated_at is not None
    shown = api_as(guest).get(f"/api/webhooks/{endpoint.pk}").json()["data"]
    assert shown["isActive"] is False
    booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 1  # no new delivery
    assert len(receiver.at("/gone")) == 1


def test_a_hanging_receiver_times_out_without_delaying_the_api_or_other_endpoints(
    api_as, guest, receiver, webhook_worker
):
    host = HostFactory.create()
    slow = register(guest, receiver, "/slow")
    fast = register(host, receiver, "/fast")
    receiver.script("/slow", "hang")
    slot = SlotFactory.create(host=host)

    response = api_as(guest).post_json("/api/bookings", {"slotId": str(slot.pk)})

    # The API answered before the receiver did: the worker calls it after the commit.
    assert response.status_code == 201
    assert not receiver.released.is_set()
    receiver.hanging.wait(30)
    assert receiver.hanging.is_set()
    # While /slow still hangs, /fast gets its delivery of the same event.
    (fast_request,) = received(receiver, "/fast")
    assert not receiver.released.is_set()
    assert fast_request.json["id"] == receiver.at("/slow")[0].json["id"]
    settled(fast)
    attempt = wait_for(
        lambda: delivery_of(slow).attempts.filter(error__startswith="Timed out").first()
    )
    assert attempt.error == f"Timed out after {WORKER_TIMEOUT:g} s"
    assert attempt.status_code is None
    assert attempt.duration_ms >= WORKER_TIMEOUT * 1000 * 0.9
    assert delivery_of(slow).status == DeliveryStatus.PENDING  # retried later
    receiver.release()


def test_a_worker_killed_mid_delivery_delivers_the_event_again_with_the_same_id(
    guest, receiver, webhook_worker
):
    endpoint = register(guest, receiver, "/hook")
    receiver.script("/hook", "hang")

    booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    receiver.hanging.wait(30)
    assert receiver.hanging.is_set()  # the worker is inside the HTTP request now
    webhook_worker.kill()
    receiver.release()

    delivery = delivery_of(endpoint)
    assert delivery.status == DeliveryStatus.PENDING
    interrupted = delivery.attempts.get()
    assert interrupted.error.startswith("Interrupted")
    # The lease of the dead worker's attempt runs out (the test moves the clock, not sleeps).
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=now_ms())
    endpoint.__class__.objects.filter(pk=endpoint.pk).update(busy_until=now_ms())
    webhook_worker.start()
    sweep_now()

    settled(endpoint)
    first, second = received(receiver, "/hook", 2)
    assert first.json["id"] == second.json["id"] == str(delivery.event_id)
    assert second.verified
    numbers = list(delivery_of(endpoint).attempts.values_list("number", "status_code"))
    assert sorted(numbers) == [(1, None), (2, 200)]


def test_a_redirect_is_not_followed_and_counts_as_a_failure(guest, receiver, webhook_worker):
    endpoint = register(guest, receiver, "/moved")
    receiver.script("/moved", 302)

    booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)

    wait_for(lambda: delivery_of(endpoint).attempts.filter(status_code=302).exists())
    assert receiver.at("/redirected") == []
    delivery = delivery_of(endpoint)
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempt_count == 1


def test_a_delivery_whose_hand_over_failed_is_sent_by_the_sweep(
    guest, receiver, webhook_worker, settings
):
    endpoint = register(guest, receiver, "/hook")
    broker = settings.CELERY_BROKER_URL
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens: the publish fails

    booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)

    assert delivery_of(endpoint).status == DeliveryStatus.PENDING  # committed, not handed over
    settings.CELERY_BROKER_URL = broker
    sweep_now()
    settled(endpoint)
    assert len(receiver.at("/hook")) == 1


def test_the_admin_redeliver_action_sends_a_delivered_event_again(
    client, guest, receiver, webhook_worker
):
    endpoint = register(guest, receiver, "/hook")
    booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    settled(endpoint)
    delivery = delivery_of(endpoint)
    client, _ = staff_client(client)

    response = client.post(
        reverse("admin:webhooks_webhookdelivery_changelist"),
        {"action": "redeliver", "_selected_action": [delivery.pk]},
        follow=True,
    )

    assert any("1 deliveries scheduled again" in str(m) for m in response.context["messages"])
    first, second = received(receiver, "/hook", 2)
    assert first.json["id"] == second.json["id"]
    wait_for(lambda: delivery_of(endpoint).attempts.filter(number=2, status_code=200).exists())
    assert delivery_of(endpoint).status == DeliveryStatus.SUCCEEDED
