"""Host booking policies (SPEC §12.2): the endpoints, every rule and message, and the admin."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse

from accounts.models import HostPolicy
from accounts.policies import duration_text, host_policy_update
from accounts.tests.factories import HostFactory, UserFactory
from bookings.models import Booking, BookingStatus
from bookings.services import booking_create
from bookings.tests.invariants import assert_booking_invariants
from core.db.instants import now_ms
from slotbooking.tests.admin import messages_of, staff_client
from slotbooking.tests.envelopes import INSTANT, assert_error, assert_invalid
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db

DEFAULTS = {
    "minNoticeMinutes": 0,
    "maxHorizonDays": None,
    "cancellationCutoffMinutes": 60,
    "maxActiveBookingsPerGuest": 1,
    "updatedAt": None,
}


def slot_in(host, delta: timedelta, **extra):
    start = now_ms() + delta
    end = start + timedelta(minutes=10)  # short, so slots minutes apart do not overlap
    return SlotFactory.create(host=host, start_time=start, end_time=end, **extra)


def book(api, user, slot):
    return api.as_user(user).post_json("/api/bookings", {"slotId": str(slot.pk)})


def put_policy(api, host, body):
    return api.as_user(host).generic("PUT", "/api/users/me/policy", json.dumps(body))


# The endpoints ------------------------------------------------------------------------------------
def test_12_2_a_host_without_a_policy_reads_the_defaults(api, host):
    response = api.as_user(host).get("/api/users/me/policy")

    assert response.status_code == 200
    assert response.json()["data"] == DEFAULTS


def test_12_2_the_default_cutoff_follows_the_cancellation_window_setting(api, host, settings):
    settings.CANCELLATION_WINDOW_HOURS = 3

    data = api.as_user(host).get("/api/users/me/policy").json()["data"]

    assert data["cancellationCutoffMinutes"] == 180


def test_12_2_put_replaces_the_whole_policy_and_omitted_fields_take_defaults(api, host):
    full = {
        "minNoticeMinutes": 90,
        "maxHorizonDays": 30,
        "cancellationCutoffMinutes": 1440,
        "maxActiveBookingsPerGuest": 3,
    }
    response = put_policy(api, host, full)
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert {k: data[k] for k in full} == full
    assert INSTANT.match(data["updatedAt"])

    response = put_policy(api, host, {"maxActiveBookingsPerGuest": 2})

    data = response.json()["data"]
    assert {k: v for k, v in data.items() if k != "updatedAt"} == {
        **{k: v for k, v in DEFAULTS.items() if k != "updatedAt"},
        "maxActiveBookingsPerGuest": 2,
    }
    assert HostPolicy.objects.filter(host=host).count() == 1
    assert api.as_user(host).get("/api/users/me/policy").json()["data"] == data


def test_12_2_any_user_reads_a_hosts_policy_and_an_unknown_id_is_404(api, host, guest):
    host_policy_update(host_id=host.pk, min_notice_minutes=30)

    response = api.as_user(guest).get(f"/api/users/{host.pk}/policy")

    assert response.status_code == 200
    assert response.json()["data"]["minNoticeMinutes"] == 30
    missing = api.as_user(guest).get("/api/users/00000000-0000-4000-8000-000000000000/policy")
    assert_error(missing, 404, "NOT_FOUND", "USER_NOT_FOUND", "User not found")
    assert_error(
        api.as_user(guest).get("/api/users/nope/policy"),
        404,
        "NOT_FOUND",
        "USER_NOT_FOUND",
        "User not found",
    )


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_12_2_a_caller_without_host_answers_403_not_a_host(api, guest, method):
    response = api.as_user(guest).generic(
        method, "/api/users/me/policy", "{}", content_type="application/json"
    )

    assert_error(response, 403, "FORBIDDEN", "NOT_A_HOST", "Only hosts can do this")
    assert not HostPolicy.objects.exists()


def test_12_2_the_policy_requires_authentication(api):
    response = api.get("/api/users/me/policy")

    assert response.status_code == 401


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("minNoticeMinutes", -1, "Number must be greater than or equal to 0"),
        ("minNoticeMinutes", 525601, "Number must be less than or equal to 525600"),
        ("minNoticeMinutes", "10", "Expected number, received string"),
        ("maxHorizonDays", 0, "Number must be greater than or equal to 1"),
        ("maxHorizonDays", 3651, "Number must be less than or equal to 3650"),
        ("cancellationCutoffMinutes", 43201, "Number must be less than or equal to 43200"),
        ("cancellationCutoffMinutes", 1.5, "Expected integer, received float"),
        ("maxActiveBookingsPerGuest", 0, "Number must be greater than or equal to 1"),
        ("maxActiveBookingsPerGuest", 101, "Number must be less than or equal to 100"),
    ],
)
def test_12_2_an_out_of_range_field_answers_400_at_its_path(api, host, field, value, message):
    response = put_policy(api, host, {field: value})

    assert_invalid(response, [{"path": field, "message": message}])
    assert not HostPolicy.objects.exists()


def test_12_2_a_body_that_is_not_an_object_answers_400(api, host):
    response = put_policy(api, host, [])

    assert_invalid(response, [{"path": "", "message": "Expected object, received array"}])


def test_12_2_the_upper_bounds_and_a_null_horizon_are_accepted(api, host):
    body = {
        "minNoticeMinutes": 525600,
        "maxHorizonDays": None,
        "cancellationCutoffMinutes": 43200,
        "maxActiveBookingsPerGuest": 100,
    }

    response = put_policy(api, host, body)

    assert response.status_code == 200
    assert {k: response.json()["data"][k] for k in body} == body


# Rules at booking time --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("minutes", "text"),
    [(120, "2 hour(s)"), (90, "90 minute(s)"), (60, "1 hour(s)"), (1, "1 minute(s)")],
)
def test_12_2_duration_text_renders_hours_when_they_divide_else_minutes(minutes, text):
    assert duration_text(minutes) == text


def test_12_2_a_slot_inside_the_minimum_notice_answers_400(api, guest, host):
    host_policy_update(host_id=host.pk, min_notice_minutes=120)
    soon = slot_in(host, timedelta(minutes=90))
    later = slot_in(host, timedelta(hours=3))

    response = book(api, guest, soon)

    assert_error(
        response,
        400,
        "BAD_REQUEST",
        "BOOKING_NOTICE_TOO_SHORT",
        "This host requires bookings at least 2 hour(s) in advance",
    )
    assert book(api, guest, later).status_code == 201


def test_12_2_the_notice_message_is_in_minutes_when_they_do_not_make_hours(api, guest, host):
    host_policy_update(host_id=host.pk, min_notice_minutes=90)
    soon = slot_in(host, timedelta(minutes=60))

    response = book(api, guest, soon)

    assert response.json()["error"]["message"] == (
        "This host requires bookings at least 90 minute(s) in advance"
    )


def test_12_2_a_slot_beyond_the_horizon_answers_400(api, guest, host):
    host_policy_update(host_id=host.pk, max_horizon_days=7)
    far = slot_in(host, timedelta(days=8))
    near = slot_in(host, timedelta(days=6))

    response = book(api, guest, far)

    assert_error(
        response,
        400,
        "BAD_REQUEST",
        "BOOKING_BEYOND_HORIZON",
        "This host accepts bookings at most 7 day(s) in advance",
    )
    assert book(api, guest, near).status_code == 201


def test_12_2_a_per_guest_limit_above_one_has_its_own_message(api, guest, host):
    host_policy_update(host_id=host.pk, max_active_bookings_per_guest=2)
    slots = [slot_in(host, timedelta(days=1, hours=h)) for h in range(3)]

    answers = [book(api, guest, slot) for slot in slots]

    assert [a.status_code for a in answers[:2]] == [201, 201]
    assert_error(
        answers[2],
        409,
        "CONFLICT",
        "HOST_ALREADY_BOOKED",
        "You have reached the maximum of 2 active bookings with this host",
    )
    assert_booking_invariants()


def test_12_2_the_global_maximum_still_applies_on_top_of_the_policy(api, guest, host, settings):
    settings.MAX_ACTIVE_BOOKINGS = 2
    host_policy_update(host_id=host.pk, max_active_bookings_per_guest=5)
    slots = [slot_in(host, timedelta(days=1, hours=h)) for h in range(3)]

    answers = [book(api, guest, slot) for slot in slots]

    assert [a.status_code for a in answers[:2]] == [201, 201]
    assert_error(
        answers[2],
        409,
        "CONFLICT",
        "MAX_ACTIVE_BOOKINGS",
        "You have reached the maximum of 2 active bookings",
    )


def test_12_2_the_rules_are_checked_in_the_contracts_order(api, guest, host):
    # ALREADY_BOOKED before notice; notice before horizon is moot; notice before the limits.
    host_policy_update(host_id=host.pk, min_notice_minutes=600, max_active_bookings_per_guest=1)
    group = slot_in(host, timedelta(hours=20), capacity=3)
    booking_create(user_id=guest.pk, slot_id=group.pk)
    soon = slot_in(host, timedelta(hours=2))

    assert book(api, guest, group).json()["error"]["reason"] == "ALREADY_BOOKED"
    # The guest is at the per-host limit too, but the notice rule comes first.
    assert book(api, guest, soon).json()["error"]["reason"] == "BOOKING_NOTICE_TOO_SHORT"


def test_12_2_the_policy_of_the_slots_host_applies_not_another_hosts(api, guest, host):
    host_policy_update(host_id=host.pk, min_notice_minutes=600)
    other = HostFactory.create()
    soon = slot_in(other, timedelta(hours=2))

    assert book(api, guest, soon).status_code == 201


def test_12_2_a_changed_policy_applies_to_the_next_booking(api, guest, host):
    slot = slot_in(host, timedelta(hours=2))
    host_policy_update(host_id=host.pk, min_notice_minutes=600)
    assert book(api, guest, slot).status_code == 400

    host_policy_update(host_id=host.pk)  # back to the defaults

    assert book(api, guest, slot).status_code == 201


# Cancellation cutoff ------------------------------------------------------------------------------
def cancel(api, user, booking):
    return api.as_user(user).delete(f"/api/bookings/{booking.pk}")


def test_12_2_cancel_uses_the_hosts_cutoff_in_minutes(api, guest, host):
    host_policy_update(host_id=host.pk, cancellation_cutoff_minutes=30)
    inside = booking_create(user_id=guest.pk, slot_id=slot_in(host, timedelta(minutes=20)).pk)
    other = UserFactory.create()
    outside = booking_create(user_id=other.pk, slot_id=slot_in(host, timedelta(minutes=45)).pk)

    response = cancel(api, guest, inside)

    assert_error(
        response,
        400,
        "BAD_REQUEST",
        "CANCELLATION_WINDOW_CLOSED",
        "Cancellation is only allowed at least 30 minute(s) before the slot start time",
    )
    assert cancel(api, other, outside).status_code == 200


def test_12_2_a_cutoff_in_whole_hours_reads_in_hours(api, guest, host):
    host_policy_update(host_id=host.pk, cancellation_cutoff_minutes=1440)
    booking = booking_create(user_id=guest.pk, slot_id=slot_in(host, timedelta(hours=5)).pk)

    response = cancel(api, guest, booking)

    assert response.json()["error"]["message"] == (
        "Cancellation is only allowed at least 24 hour(s) before the slot start time"
    )


def test_12_2_the_default_cutoff_keeps_the_original_message(api, guest, host):
    booking = booking_create(user_id=guest.pk, slot_id=slot_in(host, timedelta(minutes=59)).pk)

    response = cancel(api, guest, booking)

    assert response.json()["error"]["message"] == (
        "Cancellation is only allowed at least 1 hour(s) before the slot start time"
    )


def test_12_2_with_cutoff_zero_a_guest_cancels_until_the_start_but_not_after(api, guest, host):
    host_policy_update(host_id=host.pk, cancellation_cutoff_minutes=0)
    soon = booking_create(user_id=guest.pk, slot_id=slot_in(host, timedelta(minutes=5)).pk)
    other = UserFactory.create()
    started = booking_create(user_id=other.pk, slot_id=slot_in(host, timedelta(hours=3)).pk)
    with connection.cursor() as cursor:  # the slot starts: time passes, the booking stays
        cursor.execute(
            "UPDATE slots SET start_time = now() - interval '5 minutes', "
            "end_time = now() + interval '1 minute' WHERE id = %s",
            [started.slot_id],
        )

    assert cancel(api, guest, soon).status_code == 200
    assert_error(
        cancel(api, other, started),
        400,
        "BAD_REQUEST",
        "CANCELLATION_WINDOW_CLOSED",
        "Cancellation is not allowed after the slot has started",
    )
    assert Booking.objects.get(pk=started.pk).status == BookingStatus.CONFIRMED


# Admin --------------------------------------------------------------------------------------------
def user_change_form(user, **policy: object) -> dict[str, object]:
    form: dict[str, object] = {
        "email": user.email,
        "name": user.name,
        "roles": user.roles,
        "timezone": user.timezone,
        "is_active": "on",
        "booking_policy-TOTAL_FORMS": 1,
        "booking_policy-INITIAL_FORMS": int(HostPolicy.objects.filter(host=user).exists()),
        "booking_policy-MIN_NUM_FORMS": 0,
        "booking_policy-MAX_NUM_FORMS": 1,
        "booking_policy-0-host": user.pk,
    }
    form.update({f"booking_policy-0-{name}": value for name, value in policy.items()})
    return form


def test_12_2_admin_edits_a_hosts_policy_inline_through_the_service(client, host):
    client, _ = staff_client(client)
    url = reverse("admin:accounts_user_change", args=[host.pk])
    page = client.get(url)
    assert b"booking_policy-0-min_notice_minutes" in page.content

    response = client.post(
        url,
        user_change_form(
            host,
            min_notice_minutes=45,
            max_horizon_days="",
            cancellation_cutoff_minutes=120,
            max_active_bookings_per_guest=2,
        ),
    )

    assert response.status_code == 302, messages_of(response)
    policy = HostPolicy.objects.get(host=host)
    assert (
        policy.min_notice_minutes,
        policy.max_horizon_days,
        policy.cancellation_cutoff_minutes,
        policy.max_active_bookings_per_guest,
    ) == (45, None, 120, 2)
    assert policy.updated_at is not None


def test_12_2_admin_refuses_an_out_of_range_policy(client, host):
    client, _ = staff_client(client)
    url = reverse("admin:accounts_user_change", args=[host.pk])

    response = client.post(
        url,
        user_change_form(
            host,
            min_notice_minutes=0,
            max_horizon_days=0,
            cancellation_cutoff_minutes=60,
            max_active_bookings_per_guest=1,
        ),
    )

    assert response.status_code == 200
    assert b"Ensure this value is greater than or equal to 1" in response.content
    assert not HostPolicy.objects.exists()


def test_12_2_admin_saving_a_host_without_touching_the_policy_stores_none(client, host):
    client, _ = staff_client(client)
    url = reverse("admin:accounts_user_change", args=[host.pk])

    response = client.post(
        url,
        user_change_form(
            host,
            min_notice_minutes=0,
            max_horizon_days="",
            cancellation_cutoff_minutes=60,
            max_active_bookings_per_guest=1,
        ),
    )

    assert response.status_code == 302, messages_of(response)
    assert not HostPolicy.objects.exists()


def test_12_2_admin_shows_no_policy_for_a_guest(client, guest):
    client, _ = staff_client(client)

    page = client.get(reverse("admin:accounts_user_change", args=[guest.pk]))

    assert page.status_code == 200
    assert b"booking_policy" not in page.content
