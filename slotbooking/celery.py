"""The Celery app of queued booking mode.

Configured from Django settings (`CELERY_*`, see slotbooking/settings.py): Redis as broker and
result backend, late acknowledgement, prefetch 1, JSON only. Creating the app connects to nothing;
a connection opens on first use (a publish, a worker start).
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "slotbooking.settings")

app = Celery("slotbooking")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
