"""manage.py check_integrity: every data invariant, proved in SQL over the whole data."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from bookings.invariants import CHECKS, WARNINGS, invariant_offenders
from core.cli.kit import ProgressBar, business_failure


class Command(BaseCommand):
    help = (
        "Verify every data invariant with SQL over the whole database: slot times, "
        "capacity, booked counts against bookings, duplicate confirmed bookings, status "
        "consistency, overlaps, cancelledAt, emails and roles. Prints one line per breach and a "
        "summary; exits 1 if any breach is found, 0 otherwise. Users above today's "
        "MAX_ACTIVE_BOOKINGS (or with two active bookings on one host) are warnings only: the "
        "limits may have changed since they booked. --json prints the findings as JSON."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the findings as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        breaches: list[dict[str, Any]] = []
        warnings: list[dict[str, Any]] = []
        with ProgressBar(len(CHECKS) + len(WARNINGS), label="checks") as bar:
            for checks, found in ((CHECKS, breaches), (WARNINGS, warnings)):
                for check in checks:
                    for row in invariant_offenders(check):
                        found.append({"check": check.code, "title": check.title, **row})
                    bar.advance()
        if options["json"]:
            report = {"ok": not breaches, "breaches": breaches, "warnings": warnings}
            self.stdout.write(json.dumps(report, indent=2))
        else:
            for kind, items in (("BREACH", breaches), ("WARNING", warnings)):
                for item in items:
                    fields = " ".join(
                        f"{key}={value}"
                        for key, value in item.items()
                        if key not in ("check", "title")
                    )
                    self.stdout.write(f"{kind} {item['check']} {item['title']}: {fields}")
            self.stdout.write(
                f"{len(CHECKS)} invariants checked: {len(breaches)} breach(es), "
                f"{len(warnings)} warning(s)"
            )
        if breaches:
            raise business_failure(f"{len(breaches)} invariant breach(es) found")
