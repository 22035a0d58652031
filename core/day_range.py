"""A range of whole calendar days in a time zone: what analytics, the report and the bookings
export filter on."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta


@dataclass(frozen=True)
class DayRange:
    """Whole calendar days in a zone: [start 00:00, the day after end 00:00), local to `zone`."""

    start_day: date
    end_day: date
    zone: str

    @property
    def lower(self) -> datetime:
        return datetime.combine(self.start_day, time(), zoneinfo.ZoneInfo(self.zone))

    @property
    def upper(self) -> datetime:
        zone = zoneinfo.ZoneInfo(self.zone)
        if self.end_day == date.max:
            # 9999-12-31 has no next day in Python (OverflowError, a 500). Its last microsecond
            # is later than every stored instant, which have millisecond precision.
            return datetime.combine(self.end_day, time.max, zone)
        return datetime.combine(self.end_day + timedelta(days=1), time(), zone)

    @property
    def days(self) -> int:
        return (self.end_day - self.start_day).days + 1
