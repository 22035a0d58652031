"""manage.py create_slots: weekly-recurring slots for a host through slot_bulk_create."""

from __future__ import annotations

from datetime import time
from typing import Any
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandParser

from accounts.cli import user_by_email_or_id
from core.audit import EventSource
from core.cli.kit import (
    business_failure,
    calendar_day,
    domain_details,
    usage_error,
)
from core.db.instants import format_instant
from core.errors import DomainError, ValidationFailedError
from core.limits import SLOT_DURATION_MAX_MINUTES, SLOT_DURATION_MIN_MINUTES
from slots.errors import SlotOverlapError
from slots.services import WEEKDAYS, SlotRule, slot_bulk_create


def _times(value: str) -> list[time]:
    try:
        return [time.fromisoformat(part.strip()) for part in value.split(",") if part.strip()]
    except ValueError:
        import argparse

        raise argparse.ArgumentTypeError(f"expected HH:MM[,HH:MM…], got {value!r}") from None


def _weekdays(value: str) -> list[str]:
    days = [part.strip().upper() for part in value.split(",") if part.strip()]
    unknown = [day for day in days if day not in WEEKDAYS]
    if unknown:
        import argparse

        raise argparse.ArgumentTypeError(f"unknown weekday(s) {', '.join(unknown)}")
    return days


class Command(BaseCommand):
    help = (
        "Publish a host's slots for every listed weekday and local start time between two dates, "
        "all at once or none. Times are wall-clock times in "
        "--tz (default: the host's zone): a time in a spring-forward gap is skipped "
        "(NONEXISTENT_LOCAL_TIME), an ambiguous fall-back time takes its first occurrence, and "
        "past occurrences are skipped. If an occurrence overlaps an existing slot nothing is "
        "created (exit 1) unless --skip-conflicts skips just those. Exit codes: 0 done, "
        "1 conflict or not a host, 2 usage error."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", required=True, help="the host's email or user id")
        parser.add_argument(
            "--from",
            dest="start",
            required=True,
            type=calendar_day,
            metavar="YYYY-MM-DD",
            help="the first day (a calendar day in --tz), e.g. 2030-03-04",
        )
        parser.add_argument(
            "--to",
            dest="end",
            required=True,
            type=calendar_day,
            metavar="YYYY-MM-DD",
            help="the last day, included",
        )
        parser.add_argument("--weekdays", required=True, type=_weekdays, help="e.g. MON,WED")
        parser.add_argument("--times", required=True, type=_times, help="e.g. 09:00,14:00")
        parser.add_argument(
            "--duration",
            required=True,
            type=int,
            help=f"minutes ({SLOT_DURATION_MIN_MINUTES}-{SLOT_DURATION_MAX_MINUTES})",
        )
        parser.add_argument("--tz", help="IANA time zone of the times (default: the host's)")
        parser.add_argument("--capacity", type=int, default=1, help="places per slot (1)")
        parser.add_argument("--skip-conflicts", action="store_true", help="skip overlaps")
        parser.add_argument("--dry-run", action="store_true", help="plan only; write nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        host = user_by_email_or_id(options["host"])
        rule = SlotRule(
            start_date=options["start"],
            end_date=options["end"],
            weekdays=options["weekdays"],
            times=options["times"],
            duration_minutes=options["duration"],
            capacity=options["capacity"],
            time_zone=options["tz"],
        )
        try:
            result = slot_bulk_create(
                host_id=host.pk,
                rule=rule,
                skip_conflicts=options["skip_conflicts"],
                dry_run=options["dry_run"],
                source=EventSource.CLI,
            )
        except ValidationFailedError as exc:
            raise usage_error(domain_details(exc)) from exc
        except SlotOverlapError as exc:
            for conflict in (exc.details or {}).get("conflicts", []):
                self.stderr.write(f"conflict  {conflict['startTime']} → {conflict['endTime']}")
            raise business_failure(
                f"{exc.message}: nothing created (use --skip-conflicts to skip the overlaps)"
            ) from exc
        except DomainError as exc:
            raise business_failure(domain_details(exc)) from exc

        verb = "planned" if result.dry_run else "created"
        items = result.planned if result.dry_run else result.created
        zone = ZoneInfo(rule.time_zone or host.timezone)
        for item in items:
            # The host's wall clock first (what the rule asked for), the instants after it.
            start, end = item.start_time.astimezone(zone), item.end_time.astimezone(zone)
            until = f"{end:%H:%M %Z}" if end.date() == start.date() else f"{end:%Y-%m-%d %H:%M %Z}"
            self.stdout.write(
                f"{verb}  {start:%Y-%m-%d %H:%M %Z} → {until}  "
                f"({format_instant(item.start_time)} → {format_instant(item.end_time)})"
            )
        for skipped in result.skipped:
            where = f" ({skipped.local})" if skipped.local else ""
            self.stdout.write(
                f"skipped  {format_instant(skipped.start_time)}{where}: {skipped.reason}"
            )
        suffix = " (dry run: nothing written)" if result.dry_run else ""
        self.stdout.write(
            f"{len(items)} {verb}, {len(result.skipped)} skipped{suffix}; local times in {zone.key}"
        )
