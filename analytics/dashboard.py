"""The admin's analytics dashboard: the API's numbers, as cards, charts and tables."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from analytics.charts import bar_chart, gauge
from analytics.selectors import analytics_report
from analytics.serializers import analytics_data
from core.api.day_range import DayRangeQuery
from core.api.fields import validate_input
from core.errors import DomainError, ValidationFailedError

DEFAULT_DAYS = 30
FIELD_OF_PATH = {"startDate": "start_date", "endDate": "end_date", "tz": "tz"}


class DashboardForm(forms.Form):
    start_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    tz = forms.CharField(initial="UTC", label="Time zone", help_text="IANA, e.g. Europe/Berlin")


def default_range(today: date) -> dict[str, str]:
    """The last 30 days in UTC, today included."""
    return {
        "start_date": (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
        "end_date": today.isoformat(),
        "tz": "UTC",
    }


def every_day(data: dict[str, Any]) -> list[tuple[str, int]]:
    """(date, bookings) for each day of the range, 0 where the API lists none, so gaps show."""
    counts = {day["date"]: day["count"] for day in data["bookingsPerDay"]}
    first = date.fromisoformat(data["range"]["startDate"])
    last = date.fromisoformat(data["range"]["endDate"])
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [(day.isoformat(), counts.get(day.isoformat(), 0)) for day in days]


def analytics_dashboard(request: HttpRequest) -> HttpResponse:
    """GET /admin/analytics/: staff only (wrapped in admin_site.admin_view by the URLconf)."""
    params = request.GET if "start_date" in request.GET else default_range(datetime.now(UTC).date())
    form = DashboardForm(params)
    data: dict[str, Any] | None = None
    if form.is_valid():
        # The API's own validation, so the dashboard accepts exactly what it does.
        query = {
            "startDate": form.cleaned_data["start_date"].isoformat(),
            "endDate": form.cleaned_data["end_date"].isoformat(),
            "tz": form.cleaned_data["tz"].strip(),
        }
        try:
            day_range = validate_input(DayRangeQuery, query)["day_range"]
            data = analytics_data(analytics_report(day_range=day_range))
        except ValidationFailedError as exc:
            for detail in exc.details or []:
                form.add_error(FIELD_OF_PATH.get(detail["path"]), detail["message"])
        except DomainError as exc:
            form.add_error(None, exc.message)
    context = {
        **admin.site.each_context(request),
        "title": "Booking analytics",
        "form": form,
        "data": data,
    }
    if data is not None:
        per_day = every_day(data)
        hosts = [(h["hostName"], h["bookingCount"]) for h in data["topHosts"]]
        context.update(
            per_day=per_day,
            per_day_chart=bar_chart(
                per_day, title="Bookings created per day", chart_id="chart-per-day"
            ),
            top_hosts_chart=bar_chart(
                hosts,
                title="Top hosts by confirmed bookings",
                chart_id="chart-top-hosts",
                width=480,
            ),
            cancellation_gauge=gauge(
                data["cancellationRate"], title="Cancellation rate", chart_id="gauge-cancellation"
            ),
            utilisation_gauge=gauge(
                data["utilisation"]["rate"], title="Utilisation", chart_id="gauge-utilisation"
            ),
        )
    return TemplateResponse(request, "admin/analytics/dashboard.html", context)
