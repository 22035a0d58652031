"""What a back-office user sees in their first hour, checked in a real headless Chromium.

Same set-up as the dashboard's browser test (Debian's chromium and chromedriver through
Selenium, logged in with the admin's own form, a 1400 x 1000 window). With
SLOTBOOKING_SCREENSHOTS_DIR set (`make screenshots`) the PNGs go to docs/screenshots/.
The server-side checks below the browser test need no browser.
"""

from __future__ import annotations

import io
import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.services import staff_create
from accounts.tests.factories import HostFactory, UserFactory
from analytics.tests.test_dashboard import _chrome
from bookings.models import Booking, BookingStatus
from bookings.services import booking_create
from core.db.instants import now_ms
from slotbooking.tests.admin import STAFF_PASSWORD, staff_client
from slots.models import Slot
from slots.tests.factories import SlotFactory

WIDTH = 1400


def _login(browser, live_server, email: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element(By.NAME, "username").send_keys(email)
    browser.find_element(By.NAME, "password").send_keys(STAFF_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()


def _open(browser, url: str, element_id: str = "content") -> None:
    browser.get(url)
    _wait(browser, element_id)


def _wait(browser, element_id: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 20).until(ready.presence_of_element_located((By.ID, element_id)))


def _fits(browser) -> tuple[int, int, int, int]:
    """The results table's full width and the width its box shows (it scrolls beyond that),
    then the page's full width and the window's."""
    return browser.execute_script(
        "const box = document.querySelector('#changelist .results');"
        "return [box.scrollWidth, box.clientWidth,"
        " document.documentElement.scrollWidth, document.documentElement.clientWidth];"
    )


@pytest.mark.django_db(transaction=True)  # the browser's requests see only committed rows
def test_admin_pages_in_headless_chromium(live_server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    call_command("seed_demo", "--bookings", "40", "--days", "25", stdout=io.StringIO())
    staff, _ = staff_create(
        email="screens@example.com", name="Screens", superuser=True, password=STAFF_PASSWORD
    )
    # A future booking, so the bookings list and a booking page have one to cancel.
    guest = UserFactory.create(name="Future Guest")
    slot = (
        Slot.objects.filter(host__email="host1@example.com", start_time__gt=now_ms())
        .order_by("start_time")
        .first()
    )
    assert slot is not None
    booking = booking_create(user_id=guest.pk, slot_id=slot.pk)
    shots = Path(os.environ.get("SLOTBOOKING_SCREENSHOTS_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    browser = _chrome(tmp_path)
    try:
        _login(browser, live_server, staff.email)
        _open(browser, f"{live_server.url}/admin/")
        # Branding, "View site", no Groups (item 7).
        assert browser.find_element(By.CSS_SELECTOR, "#site-name a").text == "Slot Booking"
        assert browser.title.endswith("Slot Booking")
        assert browser.find_element(By.CSS_SELECTOR, "#content h1").text == "Back-office"
        view_site = browser.find_element(By.LINK_TEXT, "VIEW SITE")
        assert view_site.get_attribute("href") == f"{live_server.url}/docs"
        assert not browser.find_elements(By.CSS_SELECTOR, "a[href='/admin/auth/group/']")
        browser.save_screenshot(str(shots / "index.png"))

        # Every list fits a 1400 px window (item 8).
        for name, url in (
            ("slots", "/admin/slots/slot/"),
            ("bookings", "/admin/bookings/booking/"),
            ("users", "/admin/accounts/user/"),
            ("audit-events", "/admin/bookings/bookingevent/"),
            ("slot-events", "/admin/slots/slotevent/"),
        ):
            _open(browser, f"{live_server.url}{url}", "result_list")
            table, shown, page, window = _fits(browser)
            assert window <= WIDTH
            assert table <= shown, f"{url}: the table is {table} px wide, {shown} px shown"
            assert page <= window, f"{url}: the page is {page} px wide in a {window} px window"
            browser.save_screenshot(str(shots / f"{name}.png"))
            assert (shots / f"{name}.png").stat().st_size > 10_000

        # Search by the 8-character id the list shows (item 9); the slot column links (10).
        _open(browser, f"{live_server.url}/admin/bookings/booking/?q={str(booking.pk)[:8]}")
        rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
        assert len(rows) == 1
        slot_cell = rows[0].find_element(By.CSS_SELECTOR, "td.field-slot_time a")
        assert slot_cell.get_attribute("href").endswith(f"/admin/slots/slot/{slot.pk}/change/")
        assert "UTC" in slot_cell.text  # Alice's zone

        # The booking page: read-only, no Save buttons, a Cancel button (item 11).
        _open(browser, f"{live_server.url}/admin/bookings/booking/{booking.pk}/change/")
        assert not browser.find_elements(By.CSS_SELECTOR, "input[name=_save]")
        assert not browser.find_elements(By.CSS_SELECTOR, "input[name=_continue]")
        browser.save_screenshot(str(shots / "booking.png"))
        browser.find_element(By.ID, "cancel-booking").click()
        _wait(browser, "id_reason")
        browser.find_element(By.ID, "id_reason").send_keys("guest called")
        browser.find_element(By.CSS_SELECTOR, "input[name=apply]").click()
        _wait(browser, "result_list")
        assert (
            "1 booking(s) cancelled." in browser.find_element(By.CSS_SELECTOR, ".messagelist").text
        )
        booking.refresh_from_db()
        assert booking.status == BookingStatus.CANCELLED

        # The slot page links each booking to the booking's page (item 10).
        _open(browser, f"{live_server.url}/admin/slots/slot/{slot.pk}/change/")
        link = browser.find_element(By.CSS_SELECTOR, "td.field-booking a")
        assert link.get_attribute("href").endswith(f"/admin/bookings/booking/{booking.pk}/change/")

        # Bulk create (item 13): admin styling, date pickers, errors at their fields, the
        # end-before-start error together with the others, no empty "Skipped" table.
        _open(browser, f"{live_server.url}/admin/slots/slot/bulk/", "bulk-create-form")
        assert browser.find_elements(By.CSS_SELECTOR, ".field-start_date .datetimeshortcuts")
        assert browser.find_elements(By.CSS_SELECTOR, ".field-end_date .datetimeshortcuts")
        browser.save_screenshot(str(shots / "bulk-create.png"))
        browser.find_element(By.ID, "id_start_date").send_keys("2030-03-10")
        browser.find_element(By.ID, "id_end_date").send_keys("2030-03-01")
        browser.find_element(By.CSS_SELECTOR, "#bulk-create-form input[type=submit]").click()
        WebDriverWait(browser, 20).until(
            ready.presence_of_element_located((By.CSS_SELECTOR, "p.errornote"))
        )
        errors = {
            row.get_attribute("class").split()[1]: row.find_element(
                By.CSS_SELECTOR, ".errorlist"
            ).text
            for row in browser.find_elements(By.CSS_SELECTOR, ".form-row.errors")
        }
        assert errors == {
            "field-host": "Choose the host.",
            "field-end_date": "The last day must be on or after the first day.",
            "field-weekdays": "Tick at least one weekday.",
            "field-times": "Enter at least one start time, e.g. 09:00.",
        }
        assert browser.find_element(By.CSS_SELECTOR, "p.errornote").is_displayed()
        browser.save_screenshot(str(shots / "bulk-create-errors.png"))
    finally:
        browser.quit()


# Without a browser ----------------------------------------------------------------------------
@pytest.mark.django_db
def test_search_finds_rows_by_the_id_prefix_the_lists_show(client):
    client, _ = staff_client(client)
    slot = SlotFactory.create()
    booking = booking_create(user_id=UserFactory.create().pk, slot_id=slot.pk)
    for url, row, prefix in (
        ("admin:bookings_booking_changelist", booking, str(booking.pk)[:8]),
        ("admin:slots_slot_changelist", slot, str(slot.pk)[:8]),
        ("admin:accounts_user_changelist", booking.user, str(booking.user.pk)[:8]),
        ("admin:bookings_booking_changelist", booking, str(slot.pk)[:8]),  # by its slot
    ):
        response = client.get(reverse(url), {"q": prefix})
        assert list(response.context["cl"].result_list) == [row], url


@pytest.mark.django_db
def test_dates_read_one_way_and_sources_carry_one_label(client):
    client, _ = staff_client(client)
    host = HostFactory.create(timezone="Europe/Berlin")
    start = now_ms().replace(second=0, microsecond=0) + timedelta(days=3)
    slot = SlotFactory.create(host=host, start_time=start, end_time=start + timedelta(hours=1))
    booking = booking_create(user_id=UserFactory.create().pk, slot_id=slot.pk)
    call_command("seed_demo", stdout=io.StringIO())  # slot events from the command line

    page = client.get(reverse("admin:bookings_booking_change", args=[booking.pk])).content.decode()
    created = booking.created_at.strftime("%Y-%m-%d %H:%M UTC")
    assert created in page
    assert "a.m." not in page
    assert "p.m." not in page
    berlin = slot.start_time.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin"))
    assert berlin.strftime("%Y-%m-%d %H:%M CET") in page  # the slot, in its host's zone

    events = client.get(reverse("admin:bookings_bookingevent_changelist")).content.decode()
    slot_events = client.get(reverse("admin:slots_slotevent_changelist")).content.decode()
    assert '<td class="field-event_source">API</td>' in events
    assert '<td class="field-event_source">Command line</td>' in slot_events
    for html in (events, slot_events):
        assert ">Api<" not in html
        assert ">cli<" not in html
        assert "Command line</a>" in html  # the filter uses the same labels


@pytest.mark.django_db
def test_a_booking_page_has_no_save_buttons_and_cancel_only_while_confirmed(client):
    client, _ = staff_client(client)
    booking = booking_create(user_id=UserFactory.create().pk, slot_id=SlotFactory.create().pk)
    url = reverse("admin:bookings_booking_change", args=[booking.pk])
    page = client.get(url).content.decode()
    assert 'name="_save"' not in page
    assert 'name="_continue"' not in page
    assert 'id="cancel-booking"' in page

    response = client.post(
        reverse("admin:bookings_booking_changelist"),
        {"action": "cancel_with_reason", "_selected_action": [booking.pk], "apply": "1"},
    )
    assert response.status_code == 302
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.CANCELLED
    assert 'id="cancel-booking"' not in client.get(url).content.decode()


@pytest.mark.django_db
def test_bulk_create_preview_has_no_empty_skipped_table_and_reports_all_errors_at_once(client):
    client, _ = staff_client(client)
    host = HostFactory.create(timezone="Europe/Berlin")
    url = reverse("admin:slots_slot_bulk_create")
    response = client.post(
        url,
        {
            "host": host.pk,
            "start_date": "2030-03-04",
            "end_date": "2030-03-08",
            "weekdays": ["MON", "WED"],
            "times": "09:00",
            "duration_minutes": 60,
            "capacity": 1,
            "dry_run": "on",
        },
    )
    html = response.content.decode()
    assert "Would be created (preview, nothing written): 2 slots, times in Europe/Berlin" in html
    assert "2030-03-04 09:00 CET" in html
    assert "Skipped" not in html
    assert 'id="bulk-skipped"' not in html

    response = client.post(url, {"start_date": "2030-03-08", "end_date": "2030-03-04"})
    errors = response.context["form"].errors
    assert errors["end_date"] == ["The last day must be on or after the first day."]
    assert errors["host"] == ["Choose the host."]
    assert errors["times"] == ["Enter at least one start time, e.g. 09:00."]


def test_admin_site_branding_and_groups(client):
    from django.contrib import admin
    from django.contrib.auth.models import Group

    assert admin.site.site_header == "Slot Booking"
    assert admin.site.site_url == "/docs"
    assert not admin.site.is_registered(Group)
