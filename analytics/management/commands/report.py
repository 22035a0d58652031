"""manage.py report: the numbers of GET /api/admin/analytics for a range of days, as text,
CSV or JSON."""

from __future__ import annotations

import csv
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from analytics.selectors import analytics_report
from analytics.serializers import analytics_data
from core.cli.day_range import day_range_of
from core.cli.kit import business_failure
from core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Print the booking analytics for whole days from --from to --to in --tz (default UTC). "
        "Total, cancellation rate, bookings per day and top hosts count the bookings made in "
        "those days; utilisation counts the places of the slots that start in those days, "
        "whenever they were booked. The same numbers as GET /api/admin/analytics; --format json "
        "prints exactly that endpoint's `data`. "
        "Exit codes: 0 done, 1 query timeout, 2 usage error."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from",
            dest="start",
            required=True,
            metavar="YYYY-MM-DD",
            help="the first day (an instant works too)",
        )
        parser.add_argument(
            "--to", dest="end", required=True, metavar="YYYY-MM-DD", help="the last day, included"
        )
        parser.add_argument("--tz", default="UTC", help="IANA time zone of the days (UTC)")
        parser.add_argument("--format", choices=("text", "csv", "json"), default="text")

    def handle(self, *args: Any, **options: Any) -> None:
        day_range = day_range_of(options["start"], options["end"], options["tz"])
        try:
            data = analytics_data(analytics_report(day_range=day_range))
        except DomainError as exc:
            raise business_failure(exc.message) from exc
        if options["format"] == "json":
            self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
        elif options["format"] == "csv":
            self._csv(data)
        else:
            self._text(data)

    def _csv(self, data: dict[str, Any]) -> None:
        writer = csv.writer(self.stdout, lineterminator="\n")
        writer.writerow(["section", "key", "value"])
        writer.writerow(["summary", "totalBookings", data["totalBookings"]])
        writer.writerow(["summary", "cancellationRate", data["cancellationRate"]])
        for key, value in data["utilisation"].items():
            writer.writerow(["utilisation", key, value])
        for day in data["bookingsPerDay"]:
            writer.writerow(["bookingsPerDay", day["date"], day["count"]])
        for host in data["topHosts"]:
            writer.writerow(["topHosts", host["hostName"], host["bookingCount"]])

    def _text(self, data: dict[str, Any]) -> None:
        span = data["range"]
        use = data["utilisation"]
        days = f"{span['startDate']} to {span['endDate']} ({span['timeZone']})"
        lines = [
            f"Bookings made {days}, each counted on the day it was made",
            f"  total bookings     {data['totalBookings']}",
            f"  cancellation rate  {data['cancellationRate']} % of those, cancelled since",
            f"Slots that start {days}, whenever they were booked",
            f"  utilisation        {use['rate']} % ({use['bookedSeats']} of "
            f"{use['publishedCapacity']} places)"
            if use["publishedCapacity"]
            else "  utilisation        no slots start in these days",
        ]
        if data["bookingsPerDay"]:
            lines.append("Bookings per day made (days without bookings left out)")
            lines.extend(f"  {d['date']}  {d['count']}" for d in data["bookingsPerDay"])
        if data["topHosts"]:
            lines.append("Top hosts (confirmed bookings among those made in these days)")
            lines.extend(f"  {h['bookingCount']:>5}  {h['hostName']}" for h in data["topHosts"])
        if not data["totalBookings"]:
            lines.append("No bookings were made in these days: no per-day or per-host numbers.")
        self.stdout.write("\n".join(lines))
