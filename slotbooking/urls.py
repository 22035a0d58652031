"""Routes. Every API path answers with and without its trailing slash."""

from django.contrib import admin
from django.urls import path, re_path

from accounts.views import (
    CurrentUserPolicyViewSet,
    CurrentUserViewSet,
    UserDetailViewSet,
    UserPolicyViewSet,
    UserViewSet,
)
from analytics.dashboard import analytics_dashboard
from analytics.views import AnalyticsViewSet
from bookings.export_views import BookingExportViewSet
from bookings.hold_views import (
    BookingRescheduleViewSet,
    SlotHoldDetailViewSet,
    SlotHoldViewSet,
    SlotWaitlistViewSet,
)
from bookings.slot_views import HostSlotViewSet, SlotWithBookingDetailViewSet
from bookings.views import BookingDetailViewSet, BookingHistoryViewSet, BookingViewSet
from calendars.views import BookingCalendarViewSet, CalendarTokenViewSet, HostCalendarViewSet
from core.api.health import HealthViewSet
from core.api.views import (
    DocsView,
    RootViewSet,
    SchemaJsonView,
    SchemaView,
    bad_request,
    endpoint_not_found,
    server_error,
)
from core.api.viewsets import api_route
from core.metrics.views import metrics_view
from slots.views import SlotBulkViewSet, SlotViewSet
from webhooks.views import WebhookDeliveryViewSet, WebhookDetailViewSet, WebhookViewSet

ID = r"(?P<{}>[^/]+)"

urlpatterns = [
    re_path(r"^$", RootViewSet.as_view({"get": "retrieve"}), name="root"),
    api_route("health", HealthViewSet.as_view({"get": "retrieve"}), "health"),
    api_route("users", UserViewSet.as_view({"post": "create", "get": "list"}), "users"),
    api_route("users/me", CurrentUserViewSet.as_view({"get": "retrieve"}), "users-me"),
    api_route(
        "users/me/token", CurrentUserViewSet.as_view({"post": "rotate_token"}), "users-me-token"
    ),
    api_route(
        "users/me/policy",
        CurrentUserPolicyViewSet.as_view({"get": "retrieve", "put": "update"}),
        "users-me-policy",
    ),
    api_route(
        "users/" + ID.format("user_id") + "/policy",
        UserPolicyViewSet.as_view({"get": "retrieve"}),
        "user-policy",
    ),
    api_route(
        "users/" + ID.format("user_id"),
        UserDetailViewSet.as_view({"get": "retrieve"}),
        "user-detail",
    ),
    api_route("slots", SlotViewSet.as_view({"post": "create", "get": "list"}), "slots"),
    # /api/slots/host and /api/slots/bulk are matched before /api/slots/{id}.
    api_route("slots/host", HostSlotViewSet.as_view({"get": "list"}), "slots-host"),
    api_route("slots/bulk", SlotBulkViewSet.as_view({"post": "create"}), "slots-bulk"),
    api_route(
        "slots/" + ID.format("slot_id") + "/holds",
        SlotHoldViewSet.as_view({"post": "create"}),
        "slot-holds",
    ),
    api_route(
        "slots/" + ID.format("slot_id") + "/holds/" + ID.format("hold_id"),
        SlotHoldDetailViewSet.as_view({"delete": "destroy"}),
        "slot-hold-detail",
    ),
    api_route(
        "slots/" + ID.format("slot_id") + "/waitlist",
        SlotWaitlistViewSet.as_view({"post": "create", "delete": "destroy", "get": "list"}),
        "slot-waitlist",
    ),
    api_route(
        "slots/" + ID.format("slot_id"),
        SlotWithBookingDetailViewSet.as_view({"get": "retrieve", "delete": "destroy"}),
        "slot-detail",
    ),
    api_route("bookings", BookingViewSet.as_view({"post": "create", "get": "list"}), "bookings"),
    # /api/bookings/{id}/history is matched before /api/bookings/{id}.
    api_route(
        "bookings/" + ID.format("booking_id") + "/history",
        BookingHistoryViewSet.as_view({"get": "list"}),
        "booking-history",
    ),
    # Webhooks and calendars. /api/bookings/{id}.ics is matched before /api/bookings/{id}.
    api_route(
        "bookings/" + ID.format("booking_id") + r"\.ics",
        BookingCalendarViewSet.as_view({"get": "retrieve"}),
        "booking-ics",
    ),
    api_route(
        "users/me/calendar-token",
        CalendarTokenViewSet.as_view({"post": "rotate"}),
        "users-me-calendar-token",
    ),
    api_route(
        "hosts/" + ID.format("host_id") + r"/calendar\.ics",
        HostCalendarViewSet.as_view({"get": "retrieve"}),
        "host-calendar",
    ),
    api_route("webhooks", WebhookViewSet.as_view({"post": "create", "get": "list"}), "webhooks"),
    api_route(
        "webhooks/" + ID.format("webhook_id") + "/deliveries",
        WebhookDeliveryViewSet.as_view({"get": "list"}),
        "webhook-deliveries",
    ),
    api_route(
        "webhooks/" + ID.format("webhook_id"),
        WebhookDetailViewSet.as_view({"get": "retrieve", "delete": "destroy"}),
        "webhook-detail",
    ),
    api_route(
        "bookings/" + ID.format("booking_id") + "/reschedule",
        BookingRescheduleViewSet.as_view({"post": "create"}),
        "booking-reschedule",
    ),
    api_route(
        "bookings/" + ID.format("booking_id"),
        BookingDetailViewSet.as_view({"get": "retrieve", "delete": "destroy"}),
        "booking-detail",
    ),
    api_route("admin/analytics", AnalyticsViewSet.as_view({"get": "retrieve"}), "analytics"),
    api_route(
        r"admin/bookings\.csv", BookingExportViewSet.as_view({"get": "retrieve"}), "bookings-csv"
    ),
    # Documentation: served from static files, no external network access.
    re_path(r"^api/schema/?$", SchemaView.as_view(), name="schema"),
    re_path(r"^docs/json/?$", SchemaJsonView.as_view(), name="schema-json"),
    re_path(r"^(?:api/)?docs/?$", DocsView.as_view(url_name="schema"), name="docs"),
    # The analytics dashboard: an admin page, staff only through admin_view.
    path("admin/analytics/", admin.site.admin_view(analytics_dashboard), name="admin-analytics"),
    path("admin/", admin.site.urls),
    # Prometheus scrapes outside /api (its own token, METRICS_TOKEN).
    re_path(r"^metrics/?$", metrics_view, name="metrics"),
    # Anything else: the JSON 404 envelope, whatever DEBUG says.
    re_path(r"^", endpoint_not_found),
]

handler400 = bad_request
handler404 = endpoint_not_found
handler500 = server_error
