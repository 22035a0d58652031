"""Wire shapes of analytics."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from analytics.selectors import AnalyticsReport, json_number


class DayCountOut(serializers.Serializer):
    date = serializers.CharField()
    count = serializers.IntegerField()


class TopHostOut(serializers.Serializer):
    hostId = serializers.UUIDField()
    hostName = serializers.CharField()
    bookingCount = serializers.IntegerField()


class RangeOut(serializers.Serializer):
    startDate = serializers.CharField()
    endDate = serializers.CharField()
    timeZone = serializers.CharField()


class UtilisationOut(serializers.Serializer):
    publishedCapacity = serializers.IntegerField()
    bookedSeats = serializers.IntegerField()
    rate = serializers.FloatField()


class AnalyticsOut(serializers.Serializer):
    totalBookings = serializers.IntegerField()
    cancellationRate = serializers.FloatField()
    bookingsPerDay = DayCountOut(many=True)
    topHosts = TopHostOut(many=True)
    utilisation = UtilisationOut()
    range = RangeOut()

    def to_representation(self, instance: AnalyticsReport) -> dict[str, Any]:
        return analytics_data(instance)


def analytics_data(report: AnalyticsReport) -> dict[str, Any]:
    """The `data` object of GET /api/admin/analytics (also `report --format json`)."""
    return {
        "totalBookings": report.total_bookings,
        "cancellationRate": json_number(report.cancellation_rate),
        "bookingsPerDay": [
            {"date": day.isoformat(), "count": count} for day, count in report.bookings_per_day
        ],
        "topHosts": [
            {"hostId": str(h.host_id), "hostName": h.host_name, "bookingCount": h.booking_count}
            for h in report.top_hosts
        ],
        "utilisation": {
            "publishedCapacity": report.published_capacity,
            "bookedSeats": report.booked_seats,
            "rate": json_number(report.utilisation_rate),
        },
        "range": {
            "startDate": report.range.start_day.isoformat(),
            "endDate": report.range.end_day.isoformat(),
            "timeZone": report.range.zone,
        },
    }
