"""Users in the admin: forms validate like POST /api/users; writes via services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import Role, User
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
