"""Host calendar feeds: one secret feed token per host, separate from the API token."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from core.db.models import BaseModel


class CalendarToken(BaseModel):
    """Stored only as its SHA-256, like API tokens: the URL with the token is the credential."""

    host = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_token"
    )
    token_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        db_table = "calendar_tokens"

    def __str__(self) -> str:
        return f"calendar feed of {self.host_id}"
