"""The admin's analytics dashboard (SPEC §10.2): same numbers as the API, charts in SVG.

The last test drives a real headless Chromium (Debian's `chromium` + `chromedriver`, installed
by `make chromium`) through Selenium: it logs in with the admin's own login form, so the app
needs no test-only backdoor, and checks that the SVG charts are drawn with the seeded data.
With SLOTBOOKING_SCREENSHOTS_DIR set (`make screenshots`) it also saves PNGs for the README.
"""

from __future__ import annotations

import io
import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.services import staff_create
from accounts.tests.factories import UserFactory, token_for
from analytics.charts import bar_chart
from bookings.services import booking_create
from core.db.instants import now_ms
from slotbooking.tests.admin import STAFF_PASSWORD, staff_client
from slots.tests.factories import SlotFactory

DASHBOARD = "/admin/analytics/"


@pytest.mark.django_db
def test_dashboard_is_for_staff_and_linked_from_the_admin_index(client):
    response = client.get(DASHBOARD)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    guest = UserFactory.create()
    client.force_login(guest)
    assert client.get(DASHBOARD).status_code == 302  # not staff: back to the login

    client, _ = staff_client(client)
    assert reverse("admin-analytics").encode() in client.get("/admin/").content


@pytest.mark.django_db
def test_dashboard_shows_the_same_numbers_as_the_api(client, api):
    start = now_ms().replace(second=0, microsecond=0) + timedelta(days=1)
    for i, capacity in enumerate((1, 1, 2)):
        # Explicit times: the factory's sequence may be days ahead late in a full run.
        slot = SlotFactory.create(
            capacity=capacity,
            start_time=start + timedelta(hours=i),
            end_time=start + timedelta(hours=i, minutes=30),
        )
        booking_create(user_id=UserFactory.create().pk, slot_id=slot.pk)
    client, _ = staff_client(client)
    response = client.get(DASHBOARD)  # default: the last 30 days in UTC
    assert response.status_code == 200
    form = response.context["form"]
    assert form.data["tz"] == "UTC"
    today = now_ms().date()
    assert form.data["end_date"] == today.isoformat()
    assert form.data["start_date"] == (today - timedelta(days=29)).isoformat()

    start_date, end_date = today.isoformat(), (today + timedelta(days=5)).isoformat()
    response = client.get(DASHBOARD, {"start_date": start_date, "end_date": end_date, "tz": "UTC"})
    staff, _ = staff_create(email="api-staff@example.com", name="Api Staff")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(staff)}")
    query = {"start_date": start_date, "end_date": end_date}
    from_api = api.get("/api/admin/analytics", query).json()
    assert response.context["data"] == from_api["data"]
    html = response.content.decode()
    assert 'id="chart-per-day"' in html
    assert html.count('class="bar"') >= 1 + 3 + 2  # one day, three hosts, two gauges
    assert "3 of 4 places booked" in html


@pytest.mark.django_db
def test_dashboard_validates_like_the_api(client):
    client, _ = staff_client(client)
    response = client.get(
        DASHBOARD, {"start_date": "2026-02-01", "end_date": "2026-01-01", "tz": "UTC"}
    )
    assert response.context["data"] is None
    assert b"End date must be on or after start date" in response.content
    response = client.get(
        DASHBOARD, {"start_date": "2026-01-01", "end_date": "2026-01-02", "tz": "Mars/Base"}
    )
    assert b"Invalid time zone" in response.content


def test_bar_chart_escapes_labels_and_scales_to_the_peak():
    svg = bar_chart([("<script>", 2), ("b", 4)], title="t", chart_id="c", height=168)
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert 'height="84.0"' in svg  # the peak fills the plot (168 - 20 - 64)
    assert 'height="42.0"' in svg


# The real browser ---------------------------------------------------------------------------------
def _chrome(tmp_path: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    return webdriver.Chrome(service=Service(executable_path=driver_path), options=options)


@pytest.mark.django_db(transaction=True)  # the browser's requests see only committed rows
def test_dashboard_renders_its_charts_in_headless_chromium(live_server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    call_command("seed_demo", "--bookings", "40", "--days", "25", stdout=io.StringIO())
    staff, _ = staff_create(
        email="screens@example.com", name="Screens", superuser=True, password=STAFF_PASSWORD
    )
    shots = Path(os.environ.get("SLOTBOOKING_SCREENSHOTS_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    browser = _chrome(tmp_path)
    try:
        browser.get(f"{live_server.url}/admin/login/?next={DASHBOARD}")
        browser.find_element(By.NAME, "username").send_keys(staff.email)
        browser.find_element(By.NAME, "password").send_keys(STAFF_PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        WebDriverWait(browser, 20).until(
            ready.presence_of_element_located((By.ID, "chart-per-day"))
        )

        bars = browser.find_elements(By.CSS_SELECTOR, "#chart-per-day rect.bar")
        assert len(bars) == 30  # one per day of the default range, days without bookings too
        assert sum(1 for bar in bars if bar.get_attribute("data-value") != "0") >= 10
        rows = browser.find_elements(By.CSS_SELECTOR, "#table-per-day tbody tr")
        assert len(rows) == 30
        # No x label is clipped by the chart's left edge; the y axis has more than two ticks.
        clipped = browser.execute_script(
            "const svg = document.getElementById(arguments[0]).getBoundingClientRect();"
            "return [...document.querySelectorAll('#' + arguments[0] + ' text.x-label')]"
            ".filter(t => t.getBoundingClientRect().left < svg.left - 0.5).length;",
            "chart-per-day",
        )
        assert clipped == 0
        assert len(browser.find_elements(By.CSS_SELECTOR, "#chart-per-day text.y-tick")) >= 3
        # The top hosts table's rows sit one under the other, not spread over the page.
        tops = [
            row.rect["y"]
            for row in browser.find_elements(By.CSS_SELECTOR, "#table-top-hosts tbody tr")
        ]
        assert len(tops) == 2
        assert tops[1] - tops[0] < 60
        assert all(bar.size["height"] >= 0 for bar in bars)
        assert max(bar.size["height"] for bar in bars) > 50  # drawn, not just present
        hosts = browser.find_elements(By.CSS_SELECTOR, "#chart-top-hosts rect.bar")
        assert len(hosts) == 2  # Alice and Bob
        total = browser.find_element(By.CSS_SELECTOR, "#card-total .number").text
        assert int(total) >= 30
        browser.save_screenshot(str(shots / "dashboard.png"))
        assert (shots / "dashboard.png").stat().st_size > 20_000  # a real page, not a blank

        for name, url in (
            ("slots", "/admin/slots/slot/"),
            ("bookings", "/admin/bookings/booking/"),
            ("users", "/admin/accounts/user/"),
            ("audit-events", "/admin/bookings/bookingevent/"),
            ("bulk-create", "/admin/slots/slot/bulk/"),
        ):
            browser.get(f"{live_server.url}{url}")
            WebDriverWait(browser, 20).until(ready.presence_of_element_located((By.ID, "content")))
            browser.save_screenshot(str(shots / f"{name}.png"))
            assert (shots / f"{name}.png").stat().st_size > 10_000
    finally:
        browser.quit()
