"""Validation of a day range (`startDate`, `endDate`, `tz`) into a DayRange, shared by
GET /api/admin/analytics, the dashboard and the commands that take a range."""

from __future__ import annotations

import zoneinfo
from datetime import date
from typing import Any

from django.conf import settings
from rest_framework import serializers

from core.api.fields import InstantField, TimeZoneField
from core.day_range import DayRange
from core.db.instants import is_date_only, parse_calendar_date


class DayRangeQuery(serializers.Serializer):
    """`start_date`/`end_date` arrive in snake_case but fail at camelCase paths, as in the
    original: the view renames the keys before validation."""

    startDate = InstantField(allow_number=False)
    endDate = InstantField(allow_number=False)
    tz = TimeZoneField(required=False, default="UTC")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        zone = attrs["tz"]
        days = {}
        for key in ("startDate", "endDate"):
            try:
                days[key] = self._day(self.initial_data[key], attrs[key], zone)
            except OverflowError:
                # 9999-12-31T23:59Z is already year 10000 east of UTC: no calendar day of ours.
                raise serializers.ValidationError({key: "Invalid date"}) from None
        start, end = days["startDate"], days["endDate"]
        if end < start:
            raise serializers.ValidationError(
                {"endDate": "End date must be on or after start date"}
            )
        day_range = DayRange(start_day=start, end_day=end, zone=zone)
        if day_range.days > settings.ANALYTICS_MAX_RANGE_DAYS:
            raise serializers.ValidationError(
                {"endDate": f"Date range must not exceed {settings.ANALYTICS_MAX_RANGE_DAYS} days"}
            )
        return {"day_range": day_range}

    @staticmethod
    def _day(raw: Any, instant: Any, zone: str) -> date:
        # A date-only value is that calendar day; a date-time is read in `tz`, then its date.
        if is_date_only(raw):
            return parse_calendar_date(raw)
        return instant.astimezone(zoneinfo.ZoneInfo(zone)).date()


def query_for_range(params: dict[str, Any]) -> dict[str, Any]:
    data = dict(params)
    for snake, camel in (("start_date", "startDate"), ("end_date", "endDate")):
        data.pop(camel, None)
        if snake in data:
            data[camel] = data.pop(snake)
    return data
