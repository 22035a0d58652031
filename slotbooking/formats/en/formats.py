"""Date formats of the admin: one ISO-like style everywhere, `2026-12-02 09:00 UTC`.

The zone abbreviation is the one the value is shown in: UTC for timestamps (created, cancelled),
the host's zone where a column says so (slot times, via slots.admin.local_time).
"""

DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i T"
TIME_FORMAT = "H:i"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
MONTH_DAY_FORMAT = "M j"
YEAR_MONTH_FORMAT = "F Y"
