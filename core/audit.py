"""Where an audited change came from: every audit row (slot and booking events) names it."""

from __future__ import annotations

from django.db import models


class EventSource(models.TextChoices):
    API = "api"  # synchronous API
    WORKER = "worker"  # queued mode
    ADMIN = "admin"
    CLI = "cli"
