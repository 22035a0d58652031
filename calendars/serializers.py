"""Wire shapes of calendars."""

from __future__ import annotations

from rest_framework import serializers


class CalendarTokenOut(serializers.Serializer):
    calendarUrl = serializers.CharField(
        help_text="The feed's path with its token; prefix the server's origin to subscribe."
    )
    absoluteUrl = serializers.CharField(help_text="The same feed as a full URL.")
