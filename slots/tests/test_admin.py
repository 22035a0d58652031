from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from accounts.tests.factories import HostFactory
from bookings.services import booking_create
from core.db.instants import now_ms
from slotbooking.tests.admin import queries_of, staff_client
from slots.models import Slot, SlotEvent, SlotStatus
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:slots_slot_changelist")


def test_slot_changelist_query_count_does_not_grow_with_rows(client, django_assert_max_num_queries):
    client, _ = staff_client(client)
    SlotFactory.create()
    one = queries_of(client, CHANGELIST)
    for _ in range(12):
        SlotFactory.create()  # each with its own host
    with django_assert_max_num_queries(one):
        response = client.get(CHANGELIST)
    assert len(response.context["cl"].result_list) == 13
    assert queries_of(client, reverse("admin:slots_slotevent_changelist")) <= one + 2


def test_slot_list_shows_times_in_the_hosts_zone_and_searches_by_host_and_id(client):
    client, _ = staff_client(client)
    slot = SlotFactory.create(host=HostFactory.create(timezone="Asia/Tokyo", name="Tokyo Host"))
    response = client.get(CHANGELIST, {"q": "Tokyo"})
    local = slot.start_time.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
    assert local.strftime("%Y-%m-%d %H:%M JST").encode() in response.content
    response = client.get(CHANGELIST, {"q": str(slot.pk)})
    assert list(response.context["cl"].result_list) == [slot]


def test_admin_add_of_an_overlapping_slot_is_refused_with_the_service_message(client):
    client, staff = staff_client(client)
    slot = SlotFactory.create()
    start = slot.start_time + timedelta(minutes=30)
    form = {
        "host": slot.host.pk,
        "start_time_0": start.strftime("%Y-%m-%d"),
        "start_time_1": start.strftime("%H:%M:%S"),
        "end_time_0": (start + timedelta(hours=1)).strftime("%Y-%m-%d"),
        "end_time_1": (start + timedelta(hours=1)).strftime("%H:%M:%S"),
        "capacity": 1,
    }
    response = client.post(reverse("admin:slots_slot_add"), form)
    assert response.status_code == 200
    assert b"Slot overlaps with an existing slot" in response.content
    assert Slot.objects.filter(host=slot.host).count() == 1

    start = slot.end_time  # touching is fine
    form.update(
        start_time_0=start.strftime("%Y-%m-%d"),
        start_time_1=start.strftime("%H:%M:%S"),
        end_time_0=(start + timedelta(hours=1)).strftime("%Y-%m-%d"),
        end_time_1=(start + timedelta(hours=1)).strftime("%H:%M:%S"),
    )
    response = client.post(reverse("admin:slots_slot_add"), form)
    assert response.status_code == 302
    created = Slot.objects.get(host=slot.host, start_time=start)
    event = SlotEvent.objects.get(slot_id=created.pk)
    assert (event.action, event.source, event.actor_id) == ("CREATED", "admin", staff.pk)


def test_editing_the_times_of_a_booked_slot_is_refused(client, guest):
    client, _ = staff_client(client)
    slot = SlotFactory.create()
    booking_create(user_id=guest.pk, slot_id=slot.pk)
    # The page shows the times read-only instead of offering inputs that would be refused.
    page = client.get(reverse("admin:slots_slot_change", args=[slot.pk])).content.decode()
    assert 'name="start_time_0"' not in page
    assert 'name="end_time_0"' not in page
    assert 'name="capacity"' in page
    later = slot.start_time + timedelta(days=1)
    form = {
        "start_time_0": later.strftime("%Y-%m-%d"),
        "start_time_1": later.strftime("%H:%M:%S"),
        "end_time_0": (later + timedelta(hours=1)).strftime("%Y-%m-%d"),
        "end_time_1": (later + timedelta(hours=1)).strftime("%H:%M:%S"),
        "capacity": 1,
        "bookings-TOTAL_FORMS": 0,
        "bookings-INITIAL_FORMS": 0,
        "events-TOTAL_FORMS": 0,
        "events-INITIAL_FORMS": 0,
    }
    response = client.post(reverse("admin:slots_slot_change", args=[slot.pk]), form)
    assert response.status_code == 302  # the times posted anyway are not fields: ignored
    slot.refresh_from_db()
    assert slot.start_time != later
    assert slot.status == SlotStatus.BOOKED


def test_cancel_delete_action_skips_booked_slots_and_reports_them(client, guest):
    client, _ = staff_client(client)
    free, booked = SlotFactory.create(), SlotFactory.create()
    booking_create(user_id=guest.pk, slot_id=booked.pk)
    response = client.post(
        CHANGELIST,
        {"action": "cancel_or_delete", "_selected_action": [free.pk, booked.pk]},
        follow=True,
    )
    texts = [str(m) for m in response.context["messages"]]
    assert any("Cannot delete a booked slot" in text for text in texts)
    assert any("1 deleted" in text for text in texts)
    assert not Slot.objects.filter(pk=free.pk).exists()
    assert Slot.objects.filter(pk=booked.pk, status=SlotStatus.BOOKED).exists()


def test_bulk_create_page_previews_then_creates_and_refuses_overlaps(client):
    client, _ = staff_client(client)
    host = HostFactory.create(timezone="Europe/Berlin")
    day = (now_ms() + timedelta(days=10)).date()
    form = {
        "host": host.pk,
        "start_date": day.isoformat(),
        "end_date": (day + timedelta(days=6)).isoformat(),
        "weekdays": ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"],
        "times": "09:00, 14:00",
        "duration_minutes": 60,
        "time_zone": "",
        "capacity": 1,
        "dry_run": "on",
    }
    url = reverse("admin:slots_slot_bulk_create")
    response = client.post(url, form)
    assert response.status_code == 200
    assert len(response.context["planned"]) == 14
    assert not Slot.objects.filter(host=host).exists()

    del form["dry_run"]
    response = client.post(url, form, follow=True)
    assert Slot.objects.filter(host=host).count() == 14

    response = client.post(url, form)  # the same rule again: every occurrence overlaps
    assert any("Slot overlaps" in str(m) for m in response.context["messages"])
    assert Slot.objects.filter(host=host).count() == 14
