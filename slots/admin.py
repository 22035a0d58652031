"""Slots in the admin: create, edit and delete through the slot services."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import DateFieldListFilter, RelatedOnlyFieldListFilter
from django.contrib.admin.options import InlineModelAdmin
from django.contrib.admin.widgets import AdminDateWidget
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from accounts.models import Role, User
from core.admin.kit import (
    HistoryAdmin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    ServiceModelForm,
    SourceFilter,
    error_text,
    source_label,
)
from core.api.fields import parse_time_zone
from core.audit import EventSource
from core.errors import DomainError
from core.limits import (
    CAPACITY_MAX,
    CAPACITY_MIN,
)
from slots.models import Slot, SlotEvent, SlotStatus
from slots.services import (
    WEEKDAYS,
    SlotBulkResult,
    SlotDeletion,
    SlotRule,
    slot_bulk_create,
    slot_create,
    slot_delete,
    slot_update,
)

TIME_PATHS = {"startTime": "start_time", "endTime": "end_time", "capacity": "capacity"}


def local_time(value: datetime, zone: str) -> str:
    """An instant on the host's wall clock: what the host published."""
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


class SlotAddForm(ServiceModelForm):
    field_paths = TIME_PATHS

    class Meta:
        model = Slot
        fields = ("host", "start_time", "end_time", "capacity")
        help_texts = {"start_time": "UTC", "end_time": "UTC"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "host" in self.fields:
            self.fields["host"].queryset = User.objects.filter(  # type: ignore[attr-defined]
                roles__contains=[Role.HOST]
            ).order_by("name")

    def call_service(self, cleaned: dict[str, Any]) -> Slot:
        return slot_create(
            host_id=cleaned["host"].pk,
            start_time=cleaned["start_time"],
            end_time=cleaned["end_time"],
            capacity=cleaned["capacity"],
            source=EventSource.ADMIN,
            actor_id=self.request.user.pk,
        )


class SlotChangeForm(ServiceModelForm):
    field_paths = TIME_PATHS

    class Meta:
        model = Slot
        fields = ("start_time", "end_time", "capacity")
        help_texts = {
            "start_time": "UTC. Times change only while the slot has no confirmed booking.",
            "end_time": "UTC",
        }

    def call_service(self, cleaned: dict[str, Any]) -> Slot:
        return slot_update(
            slot_id=self.instance.pk,
            start_time=cleaned.get("start_time"),
            end_time=cleaned.get("end_time"),
            capacity=cleaned.get("capacity"),
            source=EventSource.ADMIN,
            actor_id=self.request.user.pk,
        )


class SlotEventInline(ReadOnlyInline):
    model = SlotEvent
    fields = (
        "created_at",
        "action",
        "event_source",
        "actor",
        "old_status",
        "new_status",
        "old_start_time",
        "new_start_time",
        "old_end_time",
        "new_end_time",
    )
    readonly_fields = fields
    verbose_name_plural = "audit log (read-only)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[SlotEvent]:
        return super().get_queryset(request).select_related("actor").order_by("created_at")

    @admin.display(description="source")
    def event_source(self, event: SlotEvent) -> str:
        return source_label(event.source)


WEEKDAY_CHOICES = [(day, day.title()) for day in WEEKDAYS]


class BulkCreateForm(forms.Form):
    """The fields of a weekly rule (slot_bulk_create); validating the rule is the service's."""

    host = forms.ModelChoiceField(
        queryset=User.objects.none(), error_messages={"required": "Choose the host."}
    )
    start_date = forms.DateField(
        widget=AdminDateWidget,
        label="First day",
        help_text="YYYY-MM-DD, a day in the zone below",
        error_messages={"required": "Enter the first day.", "invalid": "Enter a date: YYYY-MM-DD."},
    )
    end_date = forms.DateField(
        widget=AdminDateWidget,
        label="Last day",
        help_text="YYYY-MM-DD, included",
        error_messages={"required": "Enter the last day.", "invalid": "Enter a date: YYYY-MM-DD."},
    )
    weekdays = forms.MultipleChoiceField(
        choices=WEEKDAY_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Tick at least one weekday."},
    )
    times = forms.CharField(
        label="Start times",
        help_text="local start times, comma separated: 09:00,14:00",
        error_messages={"required": "Enter at least one start time, e.g. 09:00."},
    )
    duration_minutes = forms.IntegerField(
        min_value=5,
        max_value=1440,
        initial=60,
        help_text="5 to 1440",
        error_messages={"required": "Enter the length of a slot in minutes."},
    )
    time_zone = forms.CharField(required=False, help_text="IANA zone; empty: the host's zone")
    capacity = forms.IntegerField(min_value=CAPACITY_MIN, max_value=CAPACITY_MAX, initial=1)
    skip_conflicts = forms.BooleanField(
        required=False, help_text="skip occurrences that overlap existing slots"
    )
    dry_run = forms.BooleanField(
        required=False, initial=True, help_text="preview only: nothing is written"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        hosts = User.objects.filter(roles__contains=[Role.HOST]).order_by("name")
        self.fields["host"].queryset = hosts  # type: ignore[attr-defined]

    def clean_times(self) -> list[time]:
        parsed = []
        for text in self.cleaned_data["times"].split(","):
            try:
                parsed.append(time.fromisoformat(text.strip()))
            except ValueError:
                raise forms.ValidationError(f"Invalid time: {text.strip()!r}") from None
        return parsed

    def clean_time_zone(self) -> str | None:
        zone = self.cleaned_data["time_zone"].strip()
        if zone and parse_time_zone(zone) is None:
            raise forms.ValidationError("Invalid time zone")
        return zone or None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # Checked here as well as by the service, so it is reported with the other field errors
        # rather than only once they are fixed.
        start, end = cleaned.get("start_date"), cleaned.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", "The last day must be on or after the first day.")
        return cleaned


@admin.register(Slot)
class SlotAdmin(HistoryAdmin):
    list_display = ("short_id", "host_name", "start", "end", "status", "capacity", "booked_count")
    list_select_related = ("host",)
    list_filter = (
        "status",
        ("host", RelatedOnlyFieldListFilter),
        ("start_time", DateFieldListFilter),
    )
    date_hierarchy = "start_time"
    search_fields = ("host__email", "host__name")
    ordering = ("-start_time", "id")
    actions = ("cancel_or_delete",)
    change_list_template = "admin/slots/slot/change_list.html"
    # The bookings app extends this admin with the slot's bookings (bookings/admin.py).
    inlines: ClassVar[tuple[type[InlineModelAdmin[Any, Any]], ...]] = (SlotEventInline,)
    uuid_search_fields = ("id",)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        kwargs["form"] = SlotChangeForm if obj is not None else SlotAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["host", "start_time", "end_time", "capacity"]
        return ["id", "host", "start_time", "end_time", "capacity", "status", "booked_count"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        if obj.booked_count > 0 or obj.status == SlotStatus.CANCELLED:
            # slot_update refuses new times then: show them, don't offer them for editing.
            return ("id", "host", "start_time", "end_time", "status", "booked_count")
        return ("id", "host", "status", "booked_count")

    @admin.display(description="start (host's zone)", ordering="start_time")
    def start(self, slot: Slot) -> str:
        return local_time(slot.start_time, slot.host.timezone)

    @admin.display(description="end", ordering="end_time")
    def end(self, slot: Slot) -> str:
        end = local_time(slot.end_time, slot.host.timezone)
        start = local_time(slot.start_time, slot.host.timezone)
        return end.split(" ", 1)[1] if end[:10] == start[:10] else end  # same day: time only

    @admin.display(description="host", ordering="host__name")
    def host_name(self, slot: Slot) -> str:
        return slot.host.name

    @admin.action(description="Cancel/delete selected slots")
    def cancel_or_delete(self, request: HttpRequest, queryset: QuerySet[Slot]) -> None:
        outcomes: dict[SlotDeletion, int] = {}

        def delete(slot: Slot) -> None:
            outcome = slot_delete(
                user_id=slot.host_id,  # the admin acts for the slot's host
                slot_id=slot.pk,
                source=EventSource.ADMIN,
                actor_id=request.user.pk,
            )
            outcomes[outcome] = outcomes.get(outcome, 0) + 1

        slots = list(queryset.select_related("host").order_by("start_time"))
        _, skipped = self.run_each(
            request, slots, delete, label=lambda s: f"Skipped {s} of {s.host.email}"
        )
        summary = ", ".join(f"{n} {outcome.value}" for outcome, n in outcomes.items())
        if summary:
            self.message_user(request, f"Slots: {summary}.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"{len(skipped)} slot(s) skipped (see above).", messages.WARNING
            )

    def get_urls(self) -> list[URLPattern]:
        bulk = path(
            "bulk/",
            self.admin_site.admin_view(self.bulk_create_view),
            name="slots_slot_bulk_create",
        )
        return [bulk, *super().get_urls()]

    def bulk_create_view(self, request: HttpRequest) -> HttpResponse:
        """The "Bulk create slots" page: a rule, a dry-run preview, then the real run."""
        if not self.has_add_permission(request):
            return HttpResponse(status=403)
        result: SlotBulkResult | None = None
        form = BulkCreateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            rule = SlotRule(
                start_date=data["start_date"],
                end_date=data["end_date"],
                weekdays=data["weekdays"],
                times=data["times"],
                duration_minutes=data["duration_minutes"],
                capacity=data["capacity"],
                time_zone=data["time_zone"],
            )
            try:
                result = slot_bulk_create(
                    host_id=data["host"].pk,
                    rule=rule,
                    skip_conflicts=data["skip_conflicts"],
                    dry_run=data["dry_run"],
                    source=EventSource.ADMIN,
                    actor_id=request.user.pk,
                )
            except DomainError as exc:
                conflicts = (
                    (exc.details or {}).get("conflicts", [])
                    if isinstance(exc.details, dict)
                    else []
                )
                listed = ", ".join(c["startTime"] for c in conflicts[:10])
                text = error_text(exc) + (f" (conflicts: {listed})" if listed else "")
                self.message_user(request, text, messages.ERROR)
            else:
                verb = "would be created (preview)" if result.dry_run else "created"
                count = len(result.planned if result.dry_run else result.created)
                self.message_user(
                    request,
                    f"{count} slot(s) {verb}, {len(result.skipped)} skipped.",
                    messages.INFO if result.dry_run else messages.SUCCESS,
                )
        zone = form.cleaned_data.get("time_zone") if form.is_bound and form.is_valid() else None
        host = form.cleaned_data.get("host") if form.is_bound and form.is_valid() else None
        show_zone = zone or (host.timezone if host else "UTC")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Bulk create slots",
            "form": form,
            "media": self.media + form.media,
            "zone": show_zone,
            "result": result,
            "planned": [
                (local_time(p.start_time, show_zone), local_time(p.end_time, show_zone))
                for p in (result.planned if result else [])
            ],
            "skipped": [
                (local_time(s.start_time, show_zone), s.local, s.reason)
                for s in (result.skipped if result else [])
            ],
        }
        return TemplateResponse(request, "admin/slots/slot/bulk_create.html", context)


@admin.register(SlotEvent)
class SlotEventAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "slot_link",
        "action",
        "event_source",
        "actor",
        "host",
        "new_status",
    )
    list_select_related = ("actor", "host")
    list_filter = ("action", SourceFilter, ("created_at", DateFieldListFilter))
    date_hierarchy = "created_at"
    search_fields = ("actor__email", "host__email")
    ordering = ("-created_at",)
    uuid_search_fields = ("slot_id",)

    @admin.display(description="source", ordering="source")
    def event_source(self, event: SlotEvent) -> str:
        return source_label(event.source)

    @admin.display(description="slot", ordering="slot_id")
    def slot_link(self, event: SlotEvent) -> str:
        # A deleted slot keeps its events; its link then ends on the admin's "no longer exists".
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:slots_slot_change", args=[event.slot_id]),
            str(event.slot_id)[:8],
        )
