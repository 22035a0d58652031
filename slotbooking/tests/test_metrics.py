"""SPEC §12.10: GET /metrics in Prometheus text format, summed over every process."""

from __future__ import annotations

import re
import threading
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import multiprocess

from bookings.models import Booking
from core.metrics import registry as metrics
from slotbooking.tests.concurrency import LocksHeld, http_call
from slotbooking.tests.envelopes import assert_error
from slotbooking.tests.metrics import parse_metrics, scrape, value
from slotbooking.tests.servers import gunicorn
from slots.locks import slot_lock
from slots.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db

SPEC_FAMILIES = {
    "slotbooking_booking_requests": "counter",
    "slotbooking_booking_duration_seconds": "histogram",
    "slotbooking_lock_timeouts": "counter",
    "slotbooking_webhook_deliveries": "counter",
    "slotbooking_rate_limiter_errors": "counter",
    "slotbooking_http_requests": "counter",
    "slotbooking_http_request_duration_seconds": "histogram",
}


def test_every_metric_family_of_the_contract_is_declared():
    declared = {
        m._name: m._type
        for m in vars(metrics).values()
        if hasattr(m, "_name") and hasattr(m, "_type")
    }

    assert declared == SPEC_FAMILIES
    assert metrics.BOOKING_REQUESTS._labelnames == ("mode", "outcome")
    assert metrics.BOOKING_DURATION._labelnames == ("mode",)
    assert metrics.WEBHOOK_DELIVERIES._labelnames == ("outcome",)


def test_metrics_are_served_as_prometheus_text_without_api_credentials(api):
    response = api.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.content.decode()
    assert "# TYPE slotbooking_lock_timeouts_total counter" in text
    assert "# TYPE slotbooking_rate_limiter_errors_total counter" in text
    assert parse_metrics(text)  # parses back


def test_booking_outcomes_and_durations_are_counted_by_mode_and_reason(api_as, guest, api):
    slot = SlotFactory.create()
    before = scrape(api)

    created = api_as(guest).post_json("/api/bookings", {"slotId": str(slot.pk)})
    taken = api_as(guest).post_json("/api/bookings", {"slotId": str(slot.pk)})
    invalid = api_as(guest).post_json("/api/bookings", {"slotId": 5})
    after = scrape(api)

    assert [created.status_code, taken.status_code, invalid.status_code] == [201, 409, 400]

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    outcome = "slotbooking_booking_requests_total"
    assert delta(outcome, mode="sync", outcome="created") == 1
    assert delta(outcome, mode="sync", outcome="SLOT_NOT_AVAILABLE") == 1
    assert delta(outcome, mode="sync", outcome="VALIDATION_FAILED") == 1
    assert delta("slotbooking_booking_duration_seconds_count", mode="sync") == 3
    assert delta("slotbooking_booking_duration_seconds_sum", mode="sync") > 0
    http = "slotbooking_http_requests_total"
    assert delta(http, view="bookings", method="POST", status="201") == 1
    assert delta(http, view="bookings", method="POST", status="409") == 1
    assert delta(http, view="metrics", method="GET", status="200") == 1  # the first scrape
    assert (
        delta("slotbooking_http_request_duration_seconds_count", view="bookings", method="POST")
        == 3
    )


def test_unknown_paths_share_one_label_so_paths_never_become_series(api):
    before = scrape(api)
    for n in range(3):
        api.get(f"/no/such/path/{n}")

    after = scrape(api)

    labels = {"view": "unmatched", "method": "GET", "status": "404"}
    assert (
        value(after, "slotbooking_http_requests_total", **labels)
        - value(before, "slotbooking_http_requests_total", **labels)
        == 3
    )
    assert not any("/no/such" in str(key) for key in after)


def test_a_metrics_token_is_required_as_a_bearer_token_once_set(api, settings):
    settings.METRICS_TOKEN = "scrape-secret"  # noqa: S105  # a test value

    missing = api.get("/metrics")
    wrong = api.get("/metrics", headers={"Authorization": "Bearer nope"})
    right = api.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})

    for response in (missing, wrong):
        assert_error(response, 401, "UNAUTHORIZED", "INVALID_TOKEN", "Invalid API token")
        assert response["WWW-Authenticate"] == 'Bearer realm="slot-booking"'
    assert right.status_code == 200


def test_metrics_disabled_is_an_unknown_endpoint(api, settings):
    settings.METRICS_ENABLED = False

    response = api.get("/metrics")

    assert_error(
        response, 404, "NOT_FOUND", "ENDPOINT_NOT_FOUND", "The requested endpoint does not exist"
    )


def test_metrics_answers_405_to_other_methods(api):
    response = api.post("/metrics")

    assert_error(response, 405, "METHOD_NOT_ALLOWED", "METHOD_NOT_ALLOWED", "Method not allowed")
    assert response["Allow"] == "GET, HEAD"


def test_health_keeps_its_contract_beside_metrics(api):
    response = api.get("/api/health")

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["status"] == "healthy"
    assert data["checks"] == {"database": "ok"}


@pytest.mark.django_db(transaction=True)  # the lock holder's thread sees committed rows only
def test_a_lock_timeout_is_counted(api, api_as, guest, settings):
    settings.BOOKING_LOCK_TIMEOUT = 0.2
    slot = SlotFactory.create()
    before = value(scrape(api), "slotbooking_lock_timeouts_total")

    with LocksHeld(lambda: slot_lock(slot_id=slot.pk)):
        response = api_as(guest).post_json("/api/bookings", {"slotId": str(slot.pk)})

    assert response.status_code == 503
    assert response.json()["error"]["reason"] == "LOCK_TIMEOUT"
    assert value(scrape(api), "slotbooking_lock_timeouts_total") == before + 1
    assert not Booking.objects.filter(slot=slot).exists()


def _per_process(directory: Path, name: str, **labels: str) -> dict[int, float]:
    """The value of one sample in each process's own file."""
    found: dict[int, float] = {}
    for path in directory.glob("counter_*.db"):
        pid = int(re.search(r"_(\d+)\.db$", path.name).group(1))  # type: ignore[union-attr]
        for family in multiprocess.MultiProcessCollector.merge([str(path)], accumulate=True):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    found[pid] = found.get(pid, 0.0) + sample.value
    return found


@pytest.mark.django_db(transaction=True)
def test_two_gunicorn_workers_counting_one_counter_show_the_sum(tmp_path):
    samples_dir = tmp_path / "prometheus"
    env = {"PROMETHEUS_MULTIPROC_DIR": str(samples_dir)}
    # GET / and not /api/health: the readiness probe's retries (a timed-out probe may still be
    # served) must not count.
    labels = {"view": "root", "method": "GET", "status": "200"}
    name = "slotbooking_http_requests_total"
    with gunicorn(tmp_path, workers=2, env=env) as server:
        sent = 0
        by_worker: dict[int, float] = {}
        # A sync worker answers one request at a time: concurrent clients reach both workers.
        for _round in range(20):
            threads = [
                threading.Thread(
                    target=http_call,
                    args=("GET", f"{server.url}/"),
                    kwargs={"user_id": None},
                )
                for _ in range(8)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            sent += len(threads)
            by_worker = _per_process(samples_dir, name, **labels)
            if len([pid for pid, n in by_worker.items() if n > 0]) >= 2:
                break
        with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as response:  # noqa: S310
            exported = parse_metrics(response.read().decode())

    assert len([pid for pid, n in by_worker.items() if n > 0]) == 2, by_worker
    assert server.process.pid not in by_worker  # the master serves nothing
    assert sum(by_worker.values()) == sent
    assert value(exported, name, **labels) == sent
