"""The processes `make run` starts for webhooks, in sync mode: `run_booking_workers --if-queued
--with-beat` runs the default-queue worker with beat, whose 30-second sweep delivers what no one
handed over, and Ctrl-C stops it all."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
from django.conf import settings as django_settings

from bookings.services import booking_create
from slotbooking.celery import app as celery_app
from slots.tests.factories import SlotFactory
from webhooks.models import DeliveryStatus, WebhookDelivery
from webhooks.services import webhook_endpoint_create
from webhooks.tests.conftest import WORKER_ENV, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_make_runs_worker_and_beat_deliver_a_missed_event_in_sync_mode_and_stop_on_ctrl_c(
    guest, receiver, webhook_worker_session, queue_redis, settings, tmp_path
):
    webhook_worker_session.stop()  # only the command's own worker and beat this time
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    endpoint = webhook_endpoint_create(
        owner_id=guest.pk, url=receiver.url("/hook"), events=["booking.created"]
    )
    receiver.secrets["/hook"] = endpoint.secret
    # The app's own connection pool opens now, on the real broker, before the publish breaks.
    celery_app.control.ping(destination=["nobody@nowhere"], timeout=0.1)
    broker = settings.CELERY_BROKER_URL
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # the hand-over after commit fails
    booking_create(user_id=guest.pk, slot_id=SlotFactory.create().pk)
    settings.CELERY_BROKER_URL = broker
    assert WebhookDelivery.objects.get(endpoint=endpoint).status == DeliveryStatus.PENDING
    env = {
        **webhook_worker_session.env,
        **WORKER_ENV,
        "BOOKING_MODE": "sync",
        "SLOTBOOKING_DATA_DIR": str(tmp_path),
    }
    log = (tmp_path / "run.log").open("wb")
    command = [sys.executable, "manage.py", "run_booking_workers", "--if-queued", "--with-beat"]
    process = subprocess.Popen(  # noqa: S603
        command, env=env, cwd=django_settings.BASE_DIR, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        # Nobody publishes anything: only beat's sweep (every 30 s) can send it.
        (got,) = wait_for(lambda: receiver.at("/hook"), timeout=120, what="the sweep's delivery")
        assert got.verified
        wait_for(
            lambda: WebhookDelivery.objects.get(endpoint=endpoint).status
            == DeliveryStatus.SUCCEEDED
        )
        assert (tmp_path / "celerybeat-schedule").exists() or any(tmp_path.glob("celerybeat*"))
        assert celery_app.control.ping(destination=[webhook_worker_session.name], timeout=2)
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C
        returncode = process.wait(60)
        log.close()
    output = (tmp_path / "run.log").read_text()
    assert returncode == 0, output[-3000:]
    assert "no booking partition workers needed" in output
    assert "Started 1 workers: default" in output
    assert not celery_app.control.ping(destination=[webhook_worker_session.name], timeout=1)
