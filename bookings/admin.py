"""Bookings and their audit log in the admin: writes through the booking services."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import DateFieldListFilter
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from accounts.models import Role, User
from bookings.audit import REASON_MAX_LENGTH
from bookings.export import booking_csv_lines
from bookings.holds import hold_release
from bookings.models import Booking, BookingEvent, BookingStatus, Hold, WaitlistEntry
from bookings.services import booking_cancel, booking_create
from bookings.waitlist import waitlist_leave
from core.admin.kit import (
    HistoryAdmin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    ServiceModelForm,
    SourceFilter,
    source_label,
)
from core.api.fields import parse_uuid
from core.audit import EventSource
from core.db.instants import now_ms
from slots.admin import SlotAdmin
from slots.models import Slot


class HostFilter(admin.SimpleListFilter):
    title = "host"
    parameter_name = "host"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        hosts = User.objects.filter(roles__contains=[Role.HOST]).order_by("name", "id")
        return [(str(host.pk), f"{host.name} <{host.email}>") for host in hosts]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Booking]) -> QuerySet[Booking]:
        host_id = parse_uuid(self.value())
        if host_id is not None:
            return queryset.filter(slot__host_id=host_id)
        return queryset


class BookingAddForm(ServiceModelForm):
    """Guest + slot → booking_create with every rule; the staff member is the actor."""

    class Meta:
        model = Booking
        fields = ("user", "slot")
        labels = {"user": "guest"}

    def call_service(self, cleaned: dict[str, Any]) -> Booking:
        return booking_create(
            user_id=cleaned["user"].pk,
            slot_id=cleaned["slot"].pk,
            source=EventSource.ADMIN,
            actor_id=self.request.user.pk,
        )


class BookingViewForm(ServiceModelForm):
    """A saved booking is read-only here: it changes only through the actions."""

    class Meta:
        model = Booking
        fields = ()

    def call_service(self, cleaned: dict[str, Any]) -> None:
        return None


class CancelReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=REASON_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="stored in the audit log; the cancellation cutoff does not apply to staff",
    )


class BookingEventInline(ReadOnlyInline):
    model = BookingEvent
    fields = (
        "created_at",
        "action",
        "event_source",
        "actor",
        "old_status",
        "new_status",
        "reason",
        "request_id",
    )
    readonly_fields = fields
    verbose_name_plural = "audit log (read-only)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[BookingEvent]:
        return super().get_queryset(request).select_related("actor").order_by("created_at", "id")

    @admin.display(description="source")
    def event_source(self, event: BookingEvent) -> str:
        return source_label(event.source)


def slot_link(booking: Booking) -> str:
    """The booking's slot, in its host's zone, linked to the slot's page."""
    from slots.admin import local_time  # slots.admin imports this app's models: import late

    slot = booking.slot
    zone = slot.host.timezone
    return format_html(
        '<a href="{}">{} to {}</a>',
        reverse("admin:slots_slot_change", args=[slot.pk]),
        local_time(slot.start_time, zone),
        local_time(slot.end_time, zone).split(" ", 1)[1],
    )


@admin.register(Booking)
class BookingAdmin(HistoryAdmin):
    list_display = (
        "short_id",
        "guest",
        "host",
        "slot_time",
        "status",
        "created_at",
        "cancelled_at",
    )
    list_select_related = ("user", "slot__host")
    change_form_template = "admin/bookings/booking/change_form.html"
    list_filter = ("status", ("created_at", DateFieldListFilter), HostFilter)
    date_hierarchy = "created_at"
    search_fields = ("user__email", "user__name")
    uuid_search_fields = ("id", "slot_id")
    ordering = ("-created_at", "-id")
    raw_id_fields = ("user", "slot")
    actions = ("cancel_with_reason", "export_csv")
    inlines = (BookingEventInline,)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        kwargs["form"] = BookingViewForm if obj is not None else BookingAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["user", "slot"]
        return ["id", "user", "slot_time", "status", "created_at", "cancelled_at", "updated_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        return ("id", "user", "slot_time", "status", "created_at", "cancelled_at", "updated_at")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A saved booking changes only by being cancelled (the Cancel button, the action): its
        # page is a read-only view, without Save buttons.
        return obj is None and super().has_change_permission(request, obj)

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return super().has_change_permission(request)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        booking_id = parse_uuid(object_id)
        booking = Booking.objects.filter(pk=booking_id).first() if booking_id else None
        can_cancel = (
            booking is not None
            and booking.status == BookingStatus.CONFIRMED
            and self.has_cancel_permission(request)
        )
        context = {**(extra_context or {}), "can_cancel": can_cancel}
        return super().change_view(request, object_id, form_url, context)

    @admin.display(description="guest", ordering="user__name")
    def guest(self, booking: Booking) -> str:
        return booking.user.name

    @admin.display(description="host", ordering="slot__host__name")
    def host(self, booking: Booking) -> str:
        return booking.slot.host.name

    @admin.display(description="slot (host's zone)", ordering="slot__start_time")
    def slot_time(self, booking: Booking) -> str:
        return slot_link(booking)

    @admin.action(description="Cancel with reason…", permissions=["cancel"])
    def cancel_with_reason(
        self, request: HttpRequest, queryset: QuerySet[Booking]
    ) -> TemplateResponse | None:
        form = CancelReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"] or None
            bookings = list(queryset.order_by("created_at", "id"))
            done, _ = self.run_each(
                request,
                bookings,
                lambda booking: booking_cancel(
                    booking_id=booking.pk,
                    actor_id=request.user.pk,
                    source=EventSource.ADMIN,
                    reason=reason,
                    staff_override=True,
                ),
                label=lambda booking: f"Booking {booking.pk}",
            )
            if done:
                self.message_user(request, f"{len(done)} booking(s) cancelled.", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Cancel bookings",
            "opts": self.model._meta,
            "form": form,
            "bookings": queryset.select_related("user", "slot__host").order_by("created_at"),
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "now": now_ms(),
        }
        return TemplateResponse(request, "admin/bookings/booking/cancel_with_reason.html", context)

    @admin.action(description="Export CSV")
    def export_csv(
        self, request: HttpRequest, queryset: QuerySet[Booking]
    ) -> StreamingHttpResponse:
        bookings = queryset.select_related("slot__host", "user").order_by("created_at", "id")
        response = StreamingHttpResponse(
            booking_csv_lines(bookings.iterator(chunk_size=1000)),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = 'attachment; filename="bookings.csv"'
        return response


@admin.register(BookingEvent)
class BookingEventAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "booking_link",
        "action",
        "event_source",
        "actor",
        "old_status",
        "new_status",
        "reason",
    )
    list_select_related = ("actor",)
    list_filter = ("action", SourceFilter, ("created_at", DateFieldListFilter))
    date_hierarchy = "created_at"
    search_fields = ("actor__email",)
    uuid_search_fields = ("booking_id",)
    ordering = ("-created_at", "-id")

    @admin.display(description="source", ordering="source")
    def event_source(self, event: BookingEvent) -> str:
        return source_label(event.source)

    @admin.display(description="booking", ordering="booking_id")
    def booking_link(self, event: BookingEvent) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:bookings_booking_change", args=[event.booking_id]),
            str(event.booking_id)[:8],
        )


class BookingInline(ReadOnlyInline):
    model = Booking
    fields = ("booking", "user", "status", "created_at", "cancelled_at")
    readonly_fields = fields
    verbose_name_plural = "bookings (read-only)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Booking]:
        return super().get_queryset(request).select_related("user").order_by("created_at")

    @admin.display(description="booking")
    def booking(self, booking: Booking) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:bookings_booking_change", args=[booking.pk]),
            str(booking.pk)[:8],
        )


def _rows_table(headers: tuple[str, ...], rows: Sequence[tuple[object, ...]]) -> str:
    if not rows:
        return "none"
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows),
    )
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)


class SlotWithBookingsAdmin(SlotAdmin):
    """The slot admin with the slot's bookings above its audit log, and its holds and waitlist
    (slots know nothing of bookings, so the bookings app extends the slot admin). Holds and the
    waitlist are read-only fields, not inlines: staff act on them from their own pages."""

    inlines = (BookingInline, *SlotAdmin.inlines)
    WAITERS = ("holds_now", "waitlist_now")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_fields(request, obj))
        return fields if obj is None else [*fields, *self.WAITERS]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fields = tuple(super().get_readonly_fields(request, obj))
        return fields if obj is None else (*fields, *self.WAITERS)

    @admin.display(description="holds (release them on the Holds page)")
    def holds_now(self, slot: Slot) -> str:
        holds = Hold.objects.filter(slot=slot).select_related("user").order_by("-created_at")
        rows = [(h.user.email, h.status, h.expires_at, h.pk) for h in holds[:50]]
        return _rows_table(("user", "status", "expires (UTC)", "id"), rows)

    @admin.display(description="waitlist, in order (remove entries on the Waitlist page)")
    def waitlist_now(self, slot: Slot) -> str:
        entries = (
            WaitlistEntry.objects.filter(slot=slot)
            .select_related("user")
            .order_by("created_at", "id")
        )
        rows = [(e.user.email, e.status, e.created_at, e.pk) for e in entries[:100]]
        return _rows_table(("user", "status", "joined (UTC)", "id"), rows)


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    """Holds: a place reserved for a checkout or a waitlist offer. Staff may release one."""

    list_display = ("created_at", "slot", "user", "status", "expires_at", "booking")
    list_select_related = ("slot__host", "user")
    list_filter = ("status", ("created_at", DateFieldListFilter))
    search_fields = ("user__email",)
    uuid_search_fields = ("slot_id", "id")
    ordering = ("-created_at", "-id")
    actions = ("release",)

    @admin.action(description="Release selected holds (their places go to the waitlist)")
    def release(self, request: HttpRequest, queryset: QuerySet[Hold]) -> None:
        def call(hold: Hold) -> None:
            hold_release(hold_id=hold.pk, slot_id=hold.slot_id, user_id=None, staff_override=True)
            self.log_change(request, hold, "Released by staff")

        done, _ = self.run_each(request, list(queryset), call, label=lambda h: f"Hold {h.pk}")
        if done:
            self.message_user(request, f"{len(done)} hold(s) released.", messages.SUCCESS)


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(ReadOnlyAdmin):
    """Waitlist entries in order. Staff may remove one: an offered place passes on."""

    list_display = ("created_at", "slot", "user", "status", "hold")
    list_select_related = ("slot__host", "user")
    list_filter = ("status", ("created_at", DateFieldListFilter))
    search_fields = ("user__email",)
    uuid_search_fields = ("slot_id", "id")
    ordering = ("slot", "created_at", "id")
    actions = ("remove",)

    @admin.action(description="Remove selected entries from the waitlist")
    def remove(self, request: HttpRequest, queryset: QuerySet[WaitlistEntry]) -> None:
        def call(entry: WaitlistEntry) -> None:
            waitlist_leave(user_id=None, slot_id=entry.slot_id, entry_id=entry.pk)
            self.log_change(request, entry, "Removed from the waitlist by staff")

        done, _ = self.run_each(request, list(queryset), call, label=lambda e: f"Entry {e.pk}")
        if done:
            self.message_user(request, f"{len(done)} entr(ies) removed.", messages.SUCCESS)


admin.site.unregister(Slot)
admin.site.register(Slot, SlotWithBookingsAdmin)
