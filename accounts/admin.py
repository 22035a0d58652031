"""Users in the admin: forms validate like POST /api/users; writes via services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import (
    CANCELLATION_CUTOFF_MINUTES_MAX,
    MAX_ACTIVE_PER_GUEST_MAX,
    MAX_ACTIVE_PER_GUEST_MIN,
    MAX_HORIZON_DAYS_MAX,
    MAX_HORIZON_DAYS_MIN,
    MIN_NOTICE_MINUTES_MAX,
    HostPolicy,
    Role,
    User,
)
from accounts.policies import default_cancellation_cutoff_minutes, host_policy_update
from accounts.serializers import UserCreateIn
from accounts.services import api_token_rotate, user_register, user_update
from core.admin.kit import ServiceAdmin, ServiceModelForm
from core.api.fields import validate_input


class RoleFilter(admin.SimpleListFilter):
    title = "role"
    parameter_name = "role"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(role.value, role.label) for role in Role]

    def queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> QuerySet[User]:
        if self.value() in Role.values:
            return queryset.filter(roles__contains=[self.value()])
        return queryset


class UserForm(ServiceModelForm):
    """Validated by UserCreateIn, the serializer of POST /api/users, so the rules are one."""

    roles = forms.MultipleChoiceField(
        choices=Role.choices, widget=forms.CheckboxSelectMultiple, initial=[Role.GUEST]
    )
    timezone = forms.CharField(initial="UTC", help_text="IANA time zone, e.g. Europe/Berlin")
    field_paths = {"email": "email", "name": "name", "roles": "roles", "timezone": "timezone"}

    class Meta:
        model = User
        fields = ("email", "name", "roles", "timezone", "is_staff", "is_active")

    def call_service(self, cleaned: dict[str, Any]) -> User:
        data = validate_input(
            UserCreateIn,
            {key: cleaned.get(key) for key in ("email", "name", "roles", "timezone")},
        )
        flags = {key: cleaned[key] for key in ("is_staff", "is_active") if key in cleaned}
        if self.instance._state.adding:  # a new instance has its uuid already
            user, issued = user_register(
                email=data["email"],
                name=data["name"],
                roles=data["roles"],
                timezone=data["timezone"],
            )
            messages.warning(
                self.request, f"API token of {user.email} (shown only once): {issued.token}"
            )
            if flags.get("is_staff") or flags.get("is_active") is False:
                user = user_update(user_id=user.pk, **flags)
            return user
        return user_update(
            user_id=self.instance.pk,
            email=data["email"],
            name=data["name"],
            roles=data["roles"],
            timezone=data["timezone"],
            **flags,
        )


class HostPolicyForm(ServiceModelForm):
    """The host's booking policy, saved by host_policy_update like PUT /api/users/me/policy."""

    min_notice_minutes = forms.IntegerField(
        min_value=0,
        max_value=MIN_NOTICE_MINUTES_MAX,
        initial=0,
        label="Minimum notice (minutes)",
        help_text="Bookings must start at least this long ahead. 0: any future slot.",
    )
    max_horizon_days = forms.IntegerField(
        min_value=MAX_HORIZON_DAYS_MIN,
        max_value=MAX_HORIZON_DAYS_MAX,
        required=False,
        label="Maximum horizon (days)",
        help_text="Bookings may start at most this many days ahead. Empty: no limit.",
    )
    cancellation_cutoff_minutes = forms.IntegerField(
        min_value=0,
        max_value=CANCELLATION_CUTOFF_MINUTES_MAX,
        label="Cancellation cutoff (minutes)",
        help_text="Guests cancel at least this long before the start. 0: until the start.",
    )
    max_active_bookings_per_guest = forms.IntegerField(
        min_value=MAX_ACTIVE_PER_GUEST_MIN,
        max_value=MAX_ACTIVE_PER_GUEST_MAX,
        initial=1,
        label="Active bookings per guest",
        help_text="How many upcoming bookings one guest may hold with this host.",
    )
    host_id: Any = None  # the host whose page this is; set by HostPolicyInline.get_formset
    field_paths = {
        "minNoticeMinutes": "min_notice_minutes",
        "maxHorizonDays": "max_horizon_days",
        "cancellationCutoffMinutes": "cancellation_cutoff_minutes",
        "maxActiveBookingsPerGuest": "max_active_bookings_per_guest",
    }

    class Meta:
        model = HostPolicy
        fields = (
            "min_notice_minutes",
            "max_horizon_days",
            "cancellation_cutoff_minutes",
            "max_active_bookings_per_guest",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["cancellation_cutoff_minutes"].initial = default_cancellation_cutoff_minutes()

    def call_service(self, cleaned: dict[str, Any]) -> HostPolicy | None:
        if not self.has_changed():
            return None  # the page was saved for the user's own fields
        return host_policy_update(
            host_id=self.host_id,
            min_notice_minutes=cleaned["min_notice_minutes"],
            max_horizon_days=cleaned.get("max_horizon_days"),
            cancellation_cutoff_minutes=cleaned["cancellation_cutoff_minutes"],
            max_active_bookings_per_guest=cleaned["max_active_bookings_per_guest"],
        )


class HostPolicyInline(admin.StackedInline[HostPolicy, User]):
    """A host's booking policy on their user page; a host without one has the defaults."""

    model = HostPolicy
    form = HostPolicyForm
    extra = 1
    max_num = 1
    min_num = 0
    can_delete = False
    verbose_name = verbose_name_plural = "booking policy"

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        attrs = {"request": request, "host_id": None if obj is None else obj.pk}
        formset.form = type(formset.form.__name__, (formset.form,), attrs)
        return formset


@admin.register(User)
class UserAdmin(ServiceAdmin):
    form = UserForm
    list_display = ("email", "name", "role_list", "timezone", "is_staff", "is_active", "created_at")
    list_filter = (RoleFilter, "is_staff", "is_active")
    search_fields = ("email", "name")
    ordering = ("-created_at", "-id")
    readonly_fields = ("id", "last_login", "created_at", "updated_at")
    actions = ("rotate_api_token", "deactivate")
    # Deleting: Django's own page lists the slots and bookings that PROTECT keeps, and refuses,
    # since history is never deleted; deactivate such users instead.

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        # The booking policy belongs to hosts; it is edited once the user exists.
        return [HostPolicyInline] if obj is not None and obj.is_host else []

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = ["email", "name", "roles", "timezone", "is_staff", "is_active"]
        return fields if obj is None else ["id", *fields, "last_login", "created_at", "updated_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # Only superusers make staff; other staff see the flag.
        extra = () if getattr(request.user, "is_superuser", False) else ("is_staff",)
        return (*self.readonly_fields, *extra)

    @admin.display(description="roles")
    def role_list(self, user: User) -> str:
        return ", ".join(user.roles)

    @admin.action(description="Rotate API token (shows the new token once)")
    def rotate_api_token(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset.order_by("email"):
            issued = api_token_rotate(user_id=user.pk)
            self.message_user(
                request,
                f"New API token of {user.email} (shown only once): {issued.token}",
                messages.WARNING,
            )

    @admin.action(description="Deactivate selected users")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        users = list(queryset.filter(is_active=True))
        done, _ = self.run_each(
            request, users, lambda user: user_update(user_id=user.pk, is_active=False)
        )
        self.message_user(request, f"{len(done)} user(s) deactivated.", messages.SUCCESS)
