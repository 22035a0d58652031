"""manage.py export_bookings: the bookings CSV, streamed in constant memory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandParser

from accounts.cli import user_by_email_or_id
from bookings.export import booking_csv_stream, booking_list_for_export
from bookings.models import BookingStatus
from core.cli.day_range import day_range_of
from core.cli.kit import ProgressBar, usage_error


class Command(BaseCommand):
    help = (
        "Write bookings as CSV (one row per booking, ordered by createdAt then id; "
        "cells that would start a spreadsheet formula get a leading '). Filters: --from/--to "
        "(days of createdAt in --tz, like the analytics), --status, --host. Rows are streamed "
        "from the database, so memory stays constant. --output - (default) is stdout. "
        "Exit codes: 0 done, 2 usage error."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="start", help="first day of createdAt (YYYY-MM-DD)")
        parser.add_argument("--to", dest="end", help="last day of createdAt (YYYY-MM-DD)")
        parser.add_argument("--tz", default="UTC", help="IANA zone of the days (UTC)")
        parser.add_argument("--status", choices=BookingStatus.values)
        parser.add_argument("--host", help="only this host's slots: email or user id")
        parser.add_argument("--output", default="-", help="file to write, or - for stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        if (options["start"] is None) != (options["end"] is None):
            raise usage_error("--from and --to go together")
        day_range = (
            day_range_of(options["start"], options["end"], options["tz"])
            if options["start"]
            else None
        )
        host = user_by_email_or_id(options["host"]) if options["host"] else None
        filters = {
            "day_range": day_range,
            "status": options["status"],
            "host_id": host.pk if host else None,
        }
        # The same writer as GET /api/admin/bookings.csv: one format, two callers.
        lines = booking_csv_stream(**filters)
        if options["output"] == "-":
            count = self._write(lines, self.stdout, total=None)
        else:
            total = booking_list_for_export(**filters).count()
            with open(options["output"], "w", encoding="utf-8", newline="") as file:
                count = self._write(lines, file, total=total)
            self.stderr.write(f"{count} booking(s) written to {options['output']}")

    def _write(self, lines: Iterator[str], out: Any, *, total: int | None) -> int:
        written = -1  # the header is not a booking
        stream: IO[str] = getattr(out, "_out", out)  # OutputWrapper adds newlines: bypass it
        with ProgressBar(total or 0, label="bookings") as bar:
            bar.enabled = bar.enabled and total is not None  # stdout output: no bar over it
            for line in lines:
                stream.write(line)
                written += 1
                if written > 0:
                    bar.advance()
        return written
