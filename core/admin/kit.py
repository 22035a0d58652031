"""What every ModelAdmin of the project shares: writes through services, errors as messages.

The admin is just another interface of the services: its forms never save models themselves. A form
calls its service once its fields are valid, so a DomainError is shown on the form and as an
error message, never as a 500; the services own their durable transactions, so the admin's own
request-wide atomic() is left out (it would nest them, and durable=True refuses that).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest, HttpResponse

from core.api.fields import parse_uuid
from core.errors import DomainError

# The start of a uuid as the lists show it: at least 4 hex digits, dashes where a uuid has them.
ID_PREFIX = re.compile(r"[0-9a-f]{4,8}(-[0-9a-f]{0,4}){0,3}(-[0-9a-f]{0,12})?")

# How the admin names the source of an audit event (the values of bookings.models.EventSource),
# the same in the booking and the slot logs, their filters and their inlines.
SOURCE_LABELS = {"api": "API", "worker": "API (queued)", "admin": "Admin", "cli": "Command line"}


def source_label(value: str) -> str:
    return SOURCE_LABELS.get(value, value)


class SourceFilter(admin.SimpleListFilter):
    title = "source"
    parameter_name = "source"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(SOURCE_LABELS.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in SOURCE_LABELS:
            return queryset.filter(source=self.value())
        return queryset


def error_text(exc: DomainError) -> str:
    """The service's message, with the field details of a validation failure."""
    details = exc.details if isinstance(exc.details, list) else []
    parts = [f"{d.get('path') or 'input'}: {d.get('message')}" for d in details]
    return f"{exc.message}: {'; '.join(parts)}" if parts else exc.message


class ServiceModelForm(forms.ModelForm[Any]):
    """A ModelForm whose `call_service()` writes; set by the ModelAdmin with the request.

    `field_paths` maps the paths of ValidationFailedError details to form fields, so a rule the
    service checks lands next to its field.
    """

    request: HttpRequest
    field_paths: dict[str, str] = {}
    service_result: Any = None

    def call_service(self, cleaned: dict[str, Any]) -> Model | None:
        raise NotImplementedError

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        try:
            result = self.call_service(cleaned)
        except DomainError as exc:
            messages.error(self.request, error_text(exc))
            placed = False
            for detail in exc.details if isinstance(exc.details, list) else []:
                name = self.field_paths.get(str(detail.get("path", "")).split(".")[0])
                if name in self.fields:
                    self.add_error(name, str(detail.get("message")))
                    placed = True
            if not placed:
                raise forms.ValidationError(exc.message) from exc
            return cleaned
        if result is not None:
            self.instance = result
        return cleaned

    def _post_clean(self) -> None:
        # Model validation would re-run the constraints against rows the service just wrote
        # (and queries); the service and PostgreSQL have decided already.
        pass

    def save(self, commit: bool = True) -> Any:
        self.save_m2m = lambda: None  # type: ignore[method-assign]
        return self.instance


class ServiceAdmin(admin.ModelAdmin[Any]):
    """A ModelAdmin whose add/change forms write through services (see ServiceModelForm)."""

    uuid_search_fields: Sequence[str] = ("id",)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"request": request})

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # No request-wide atomic(): each service opens its own durable transaction.
        return self._changeform_view(request, object_id, form_url, extra_context)  # type: ignore[attr-defined]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """The form's service call has written already."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Inlines are read-only or write through their own service form: nothing to save. The
        change message still reads what each formset saved, so say: nothing."""
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        # An id pasted in the search box is matched exactly (and with the index) on uuid fields.
        uuid = parse_uuid(search_term.strip())
        if uuid is not None:
            match = Q()
            for name in self.uuid_search_fields:
                match |= Q(**{name: uuid})
            return queryset.filter(match), False
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        prefix = search_term.strip().lower()
        if ID_PREFIX.fullmatch(prefix):
            # The lists show ids by their first 8 characters: those find the row too.
            match = Q()
            for name in self.uuid_search_fields:
                field = queryset.model._meta.get_field(name)
                lookup = f"{field.name}__pk" if field.is_relation else name
                match |= Q(**{f"{lookup}__startswith": prefix})
            return found | queryset.filter(match), may_have_duplicates
        return found, may_have_duplicates

    def run_each(
        self,
        request: HttpRequest,
        items: Sequence[Any],
        call: Callable[[Any], object],
        *,
        label: Callable[[Any], str] = str,
    ) -> tuple[list[Any], list[tuple[Any, DomainError]]]:
        """Call a service per item; collect the DomainErrors instead of failing the batch."""
        done: list[Any] = []
        failed: list[tuple[Any, DomainError]] = []
        for item in items:
            try:
                call(item)
            except DomainError as exc:
                failed.append((item, exc))
            else:
                done.append(item)
        for item, error in failed:
            self.message_user(request, f"{label(item)}: {error_text(error)}", messages.ERROR)
        return done, failed


class HistoryAdmin(ServiceAdmin):
    """Rows with history (slots, bookings): Django's own delete is off, since bookings are never
    deleted and slots only through slot_delete; inlines show on the change page."""

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        return self.inlines if obj is not None else ()

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="id")
    def short_id(self, obj: Model) -> str:
        return str(obj.pk)[:8]


class ReadOnlyAdmin(ServiceAdmin):
    """Append-only tables: view, filter and search; never add, change or delete."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline[Any, Any]):
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
