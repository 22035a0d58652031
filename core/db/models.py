"""The abstract base of every model: uuid primary key and millisecond timestamps."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models

from core.db.instants import now_ms


class BaseModel(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Milliseconds, like every instant we store: what we render is what we compare.
    created_at = models.DateTimeField(default=now_ms, editable=False)
    updated_at = models.DateTimeField(default=now_ms, editable=False)

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.updated_at = now_ms()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "updated_at"}
        super().save(*args, **kwargs)
