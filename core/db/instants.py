"""Instants on the wire: parsing the accepted input forms, rendering `…000Z`."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta, timezone

_INSTANT = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,9}))?)?"
    r"(?P<zone>[Zz]|[+-]\d{2}(?::?\d{2})?)?)?",
    re.ASCII,
)
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
MAX_EPOCH_MS = 253402300799999  # 9999-12-31T23:59:59.999Z
MIN_EPOCH_MS = -62135596800000  # 0001-01-01T00:00:00.000Z


def now_ms() -> datetime:
    """The current UTC instant, truncated to milliseconds like every stored instant."""
    return truncate_ms(datetime.now(UTC))


def truncate_ms(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)


def format_instant(value: datetime) -> str:
    """`2026-02-01T10:00:00.000Z`: UTC, always three fraction digits (truncated)."""
    value = value.astimezone(UTC)
    if value.year < 1000:  # strftime writes such a year unpadded; isoformat would pad it
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    # isoformat is several times faster than strftime and truncates to milliseconds too.
    return value.isoformat(timespec="milliseconds")[:-6] + "Z"


def parse_instant(value: object, *, allow_number: bool) -> datetime:
    """An aware UTC datetime, truncated to milliseconds, or ValueError for anything invalid.

    Accepted: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.f{1,9}]]` with an optional `Z`/`±HH:MM`/
    `±HHMM`/`±HH` (no zone means UTC), and, when `allow_number`, epoch milliseconds.
    """
    if isinstance(value, bool):
        raise ValueError("boolean")
    if isinstance(value, int | float):
        if not allow_number or not math.isfinite(value):
            raise ValueError("number")
        millis = int(value)  # a fraction of a millisecond is dropped
        if not MIN_EPOCH_MS <= millis <= MAX_EPOCH_MS:
            raise ValueError("out of range")
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=millis)
    if not isinstance(value, str):
        raise ValueError("type")
    match = _INSTANT.fullmatch(value)
    if match is None:
        raise ValueError("format")
    parts = match.groupdict()
    fraction = (parts["fraction"] or "").ljust(6, "0")[:6]
    zone = parts["zone"]
    tz: timezone = UTC
    if zone and zone not in "Zz":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
        if hours > 23 or minutes > 59:
            raise ValueError("offset")
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    year = int(parts["year"])
    if year < 1:
        raise ValueError("year")
    local = datetime(  # raises ValueError for impossible dates and times
        year,
        int(parts["month"]),
        int(parts["day"]),
        int(parts["hour"] or 0),
        int(parts["minute"] or 0),
        int(parts["second"] or 0),
        int(fraction),
        tzinfo=tz,
    )
    try:
        return truncate_ms(local.astimezone(UTC))
    except OverflowError as exc:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise ValueError("out of range") from exc


def is_date_only(value: object) -> bool:
    return isinstance(value, str) and _DATE_ONLY.fullmatch(value) is not None


def parse_calendar_date(value: str) -> date:
    """`YYYY-MM-DD` as a date, or ValueError."""
    if not is_date_only(value):
        raise ValueError("format")
    return date.fromisoformat(value)
