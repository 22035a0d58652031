"""POST /api/slots/bulk (SPEC §12.6) over HTTP: lists and weekly rules, DST, conflicts, dry runs,
the 500-slot cap and Idempotency-Key."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from accounts.tests.factories import HostFactory
from core.db.instants import format_instant, now_ms
from slotbooking.tests.envelopes import assert_error, assert_invalid
from slots.models import Slot, SlotEvent
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db

URL = "/api/slots/bulk"
YEAR = now_ms().year + 1
# Europe/Berlin: the clocks go forward on the last Sunday of March and back on the last Sunday of
# October, both at 02:00/03:00 local time.


def last_sunday(year: int, month: int) -> date:
    day = date(year, month + 1, 1) - timedelta(days=1)
    return day - timedelta(days=(day.weekday() - 6) % 7)


def post(api, user, body, **extra):
    return api.as_user(user).post_json(URL, body, **extra)


def at(hours: float, minutes: int = 60, capacity: int | None = None) -> dict[str, object]:
    start = now_ms().replace(second=0, microsecond=0) + timedelta(hours=hours)
    item: dict[str, object] = {
        "startTime": format_instant(start),
        "endTime": format_instant(start + timedelta(minutes=minutes)),
    }
    if capacity is not None:
        item["capacity"] = capacity
    return item


def week_rule(**overrides: object) -> dict[str, object]:
    monday = date(YEAR, 6, 7) - timedelta(days=date(YEAR, 6, 7).weekday())
    return {
        "timeZone": "UTC",
        "startDate": monday.isoformat(),
        "endDate": (monday + timedelta(days=6)).isoformat(),
        "weekdays": ["MON", "WED"],
        "times": ["09:00", "14:00"],
        "durationMinutes": 60,
        **overrides,
    }


# Lists of slots -----------------------------------------------------------------------------------
def test_12_6_a_list_of_slots_is_created_at_once_with_capacities(api, host):
    body = {"slots": [at(24), at(26, capacity=8)]}

    response = post(api, host, body)

    assert response.status_code == 201, response.content
    data = response.json()["data"]
    assert list(data) == ["created", "skipped"]
    assert [(s["capacity"], s["remaining"], s["hostId"]) for s in data["created"]] == [
        (1, 1, str(host.pk)),
        (8, 8, str(host.pk)),
    ]
    assert data["skipped"] == []
    assert Slot.objects.filter(host=host).count() == 2
    events = SlotEvent.objects.filter(host=host)
    assert {(e.action, e.source, e.actor_id) for e in events} == {("CREATED", "api", host.pk)}


def test_12_6_each_slot_is_validated_at_its_own_path(api, host):
    body = {"slots": [at(24), {"startTime": "nope", "endTime": at(30)["endTime"]}, at(-2)]}

    response = post(api, host, body)

    assert_invalid(
        response,
        [{"path": "slots.1.startTime", "message": "Invalid date"}],
    )
    response = post(api, host, {"slots": [at(24), at(-2)]})
    assert_invalid(
        response, [{"path": "slots.1.startTime", "message": "Start time must be in the future"}]
    )
    response = post(api, host, {"slots": [at(24, capacity=0)]})
    assert_invalid(
        response,
        [{"path": "slots.0.capacity", "message": "Number must be greater than or equal to 1"}],
    )
    assert not Slot.objects.exists()


@pytest.mark.parametrize(
    ("body", "path", "message"),
    [
        ({}, "", "Provide exactly one of slots or rule"),
        ({"slots": [], "rule": {}}, "rule.startDate", "Required"),
        ({"slots": "x"}, "slots", "Expected array, received string"),
        ({"slots": []}, "slots", "Provide 1 to 500 slots"),
        ({"slots": [{"startTime": 1}], "skipConflicts": "yes"}, "slots.0.endTime", "Invalid date"),
    ],
)
def test_12_6_malformed_bodies_answer_400(api, host, body, path, message):
    response = post(api, host, body)

    assert response.status_code == 400, response.content
    assert {"path": path, "message": message} in response.json()["error"]["details"]


def test_12_6_both_slots_and_rule_are_refused(api, host):
    response = post(api, host, {"slots": [at(24)], "rule": week_rule()})

    assert_invalid(response, [{"path": "", "message": "Provide exactly one of slots or rule"}])


def test_12_6_flags_must_be_booleans(api, host):
    response = post(api, host, {"slots": [at(24)], "dryRun": "true"})

    assert_invalid(response, [{"path": "dryRun", "message": "Expected boolean, received string"}])


def test_12_6_more_than_500_slots_are_refused(api, host):
    response = post(api, host, {"slots": [at(24 + i, minutes=30) for i in range(501)]})

    assert_invalid(response, [{"path": "slots", "message": "Provide 1 to 500 slots"}])


def test_12_6_a_guest_cannot_create_slots_in_bulk(api, guest):
    response = post(api, guest, {"slots": [at(24)]})

    assert_error(response, 403, "FORBIDDEN", "NOT_A_HOST", "Only hosts can create slots")
    assert not Slot.objects.exists()


# Weekly rules -------------------------------------------------------------------------------------
def test_12_6_a_rule_creates_every_weekday_and_time_in_its_zone(api, host):
    response = post(api, host, {"rule": week_rule(timeZone="Asia/Tokyo", capacity=4)})

    assert response.status_code == 201, response.content
    created = response.json()["data"]["created"]
    assert len(created) == 4
    starts = [datetime.fromisoformat(s["startTime"]) for s in created]
    assert {s.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo")).hour for s in starts} == {
        9,
        14,
    }
    assert {s["capacity"] for s in created} == {4}


def test_12_6_the_rules_zone_defaults_to_the_hosts(api):
    host = HostFactory.create(timezone="America/New_York")
    body = {"rule": {k: v for k, v in week_rule().items() if k != "timeZone"}}

    created = post(api, host, body).json()["data"]["created"]

    first = datetime.fromisoformat(created[0]["startTime"])
    assert first.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York")).hour == 9


def test_12_6_a_time_in_the_spring_gap_is_skipped_and_an_ambiguous_one_takes_the_first(api, host):
    spring, autumn = last_sunday(YEAR, 3), last_sunday(YEAR, 10)
    gap = {
        "timeZone": "Europe/Berlin",
        "startDate": spring.isoformat(),
        "endDate": spring.isoformat(),
        "weekdays": ["SUN"],
        "times": ["02:30"],
        "durationMinutes": 30,
    }
    repeat = {**gap, "startDate": autumn.isoformat(), "endDate": autumn.isoformat()}

    skipped = post(api, host, {"rule": gap, "dryRun": True}).json()["data"]
    ambiguous = post(api, host, {"rule": repeat}).json()["data"]

    assert skipped["planned"] == []
    assert [s["reason"] for s in skipped["skipped"]] == ["NONEXISTENT_LOCAL_TIME"]
    # 02:30 happens twice; the first is still summer time (UTC+2), so 00:30 UTC.
    start = datetime.combine(autumn, datetime.min.time(), tzinfo=UTC) + timedelta(minutes=30)
    assert [s["startTime"] for s in ambiguous["created"]] == [format_instant(start)]
    assert ambiguous["created"][0]["endTime"] == format_instant(start + timedelta(minutes=30))


def test_12_6_occurrences_that_have_started_are_skipped(api, host):
    today = now_ms().date()
    body = {
        "rule": {
            "timeZone": "UTC",
            "startDate": (today - timedelta(days=1)).isoformat(),
            "endDate": (today + timedelta(days=2)).isoformat(),
            "weekdays": ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"],
            "times": ["00:00"],
            "durationMinutes": 5,
        }
    }

    data = post(api, host, body).json()["data"]

    assert [s["reason"] for s in data["skipped"]] == ["SLOT_IN_PAST", "SLOT_IN_PAST"]
    assert len(data["created"]) == 2


@pytest.mark.parametrize(
    ("overrides", "path", "message"),
    [
        ({"times": ["09:00", "09:30"]}, "rule.times", "Rule produces overlapping slots"),
        (
            {"endDate": f"{YEAR}-01-01", "startDate": f"{YEAR}-02-01"},
            "rule.endDate",
            "End date must be on or after start date",
        ),
        ({"weekdays": []}, "rule.weekdays", "Weekdays must be non-empty and unique"),
        (
            {"weekdays": ["XYZ"]},
            "rule.weekdays.0",
            "Invalid enum value. Expected 'MON' | 'TUE' | 'WED' | 'THU' | 'FRI' | 'SAT' | 'SUN', "
            "received 'XYZ'",
        ),
        ({"times": ["9am"]}, "rule.times.0", "Invalid time; expected HH:MM"),
        (
            {"durationMinutes": 4},
            "rule.durationMinutes",
            "Number must be greater than or equal to 5",
        ),
        ({"timeZone": "Mars/Base"}, "rule.timeZone", "Invalid time zone"),
        ({"startDate": f"{YEAR}-02-30"}, "rule.startDate", "Invalid date; expected YYYY-MM-DD"),
    ],
)
def test_12_6_an_invalid_rule_answers_400_at_its_path(api, host, overrides, path, message):
    response = post(api, host, {"rule": week_rule(**overrides)})

    assert_invalid(response, [{"path": path, "message": message}])
    assert not Slot.objects.exists()


def test_12_6_a_rule_of_more_than_500_slots_is_refused(api, host):
    body = {
        "rule": week_rule(
            endDate=(
                date.fromisoformat(str(week_rule()["startDate"])) + timedelta(days=300)
            ).isoformat(),
            weekdays=["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"],
            times=["08:00", "12:00"],
        )
    }

    response = post(api, host, body)

    assert_invalid(response, [{"path": "rule", "message": "Rule produces more than 500 slots"}])


# Conflicts, dry runs, idempotency -----------------------------------------------------------------
def test_12_6_an_overlap_fails_the_whole_request_with_the_conflicts(api, host):
    existing = SlotFactory.create(host=host)
    clash = {
        "startTime": format_instant(existing.start_time + timedelta(minutes=30)),
        "endTime": format_instant(existing.end_time + timedelta(minutes=30)),
    }
    body = {"slots": [at(100), clash]}

    response = post(api, host, body)

    assert_error(
        response,
        409,
        "CONFLICT",
        "SLOT_OVERLAP",
        "Slot overlaps with an existing slot",
        {"conflicts": [clash]},
    )
    assert list(Slot.objects.filter(host=host)) == [existing]


def test_12_6_skip_conflicts_creates_the_rest_and_names_the_skipped(api, host):
    existing = SlotFactory.create(host=host)
    clash = {
        "startTime": format_instant(existing.start_time),
        "endTime": format_instant(existing.end_time),
    }

    data = post(api, host, {"slots": [at(100), clash], "skipConflicts": True}).json()["data"]

    assert len(data["created"]) == 1
    assert data["skipped"] == [{**clash, "reason": "SLOT_OVERLAP"}]
    assert Slot.objects.filter(host=host).count() == 2


def test_12_6_a_dry_run_answers_200_with_the_plan_and_writes_nothing(api, host):
    response = post(api, host, {"rule": week_rule(capacity=3), "dryRun": True})

    assert response.status_code == 200
    data = response.json()["data"]
    assert list(data) == ["planned", "skipped"]
    assert len(data["planned"]) == 4
    assert set(data["planned"][0]) == {"startTime", "endTime", "capacity"}
    assert {p["capacity"] for p in data["planned"]} == {3}
    assert not Slot.objects.exists()


def test_12_6_an_idempotency_key_replays_the_first_answer_and_creates_once(api, host):
    body = {"rule": week_rule()}

    first = post(api, host, body, HTTP_IDEMPOTENCY_KEY="week-1")
    second = post(api, host, body, HTTP_IDEMPOTENCY_KEY="week-1")
    other = post(api, host, {"rule": week_rule(times=["10:00"])}, HTTP_IDEMPOTENCY_KEY="week-1")

    assert first.status_code == 201
    assert second.content == first.content
    assert second.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 422
    assert Slot.objects.filter(host=host).count() == 4


def test_12_6_a_stored_conflict_is_replayed_too(api, host):
    existing = SlotFactory.create(host=host)
    clash = {
        "startTime": format_instant(existing.start_time),
        "endTime": format_instant(existing.end_time),
    }

    first = post(api, host, {"slots": [clash]}, HTTP_IDEMPOTENCY_KEY="k")
    second = post(api, host, {"slots": [clash]}, HTTP_IDEMPOTENCY_KEY="k")

    assert first.status_code == 409
    assert second.content == first.content
    assert json.loads(second.content)["error"]["details"] == {"conflicts": [clash]}
