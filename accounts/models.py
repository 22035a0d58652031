"""Users (hosts and guests, staff for the back-office) and their API tokens."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Func, Q, Value
from django.db.models.functions import Lower
from django.db.models.lookups import GreaterThanOrEqual

from core.db.models import BaseModel


class Role(models.TextChoices):
    HOST = "HOST"
    GUEST = "GUEST"


class Cardinality(Func):
    function = "cardinality"
    output_field = models.IntegerField()


class UserManager(BaseUserManager["User"]):
    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        user = self.model(email=email, **fields)
        user.set_password(password) if password else user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("name", email.split("@")[0])
        fields.setdefault("roles", [Role.GUEST])
        return self.create_user(email, password, is_staff=True, is_superuser=True, **fields)

    def get_by_natural_key(self, username: str | None) -> User:
        # Staff log in to the admin with their email in any case, as it is unique ignoring case.
        return self.annotate(email_ci=Lower("email")).get(email_ci=Lower(Value(username)))


class User(BaseModel, AbstractBaseUser, PermissionsMixin):
    email = models.CharField(max_length=254)
    name = models.CharField(max_length=100)
    roles = ArrayField(models.CharField(max_length=5, choices=Role.choices), default=list)
    timezone = models.CharField(max_length=64, default="UTC")
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        db_table = "users"
        # No default ordering: every lookup by id (authentication, user_lock) would sort.
        # Lists order explicitly (user_list, the admin).
        constraints = [
            models.UniqueConstraint(Lower("email"), name="users_email_unique_ci"),
            models.CheckConstraint(
                condition=Q(roles__contained_by=[Role.HOST, Role.GUEST]), name="users_roles_valid"
            ),
            models.CheckConstraint(
                condition=GreaterThanOrEqual(Cardinality(F("roles")), 1),
                name="users_roles_not_empty",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    @property
    def is_host(self) -> bool:
        return Role.HOST in self.roles


class ApiToken(models.Model):
    """At most one per user; only the SHA-256 of the token is stored."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="api_token")
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "api_tokens"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user_id})"


# Bounds of a host's booking policy, shared by the model's CHECKs, the API and the admin.
MIN_NOTICE_MINUTES_MAX = 525_600  # one year
MAX_HORIZON_DAYS_MIN, MAX_HORIZON_DAYS_MAX = 1, 3650
CANCELLATION_CUTOFF_MINUTES_MAX = 43_200  # 30 days
MAX_ACTIVE_PER_GUEST_MIN, MAX_ACTIVE_PER_GUEST_MAX = 1, 100


class HostPolicy(models.Model):
    """A host's booking rules, at most one row per host. A host without a row has the default
    policy: no minimum notice, no horizon, the server's cancellation window, one active booking
    per guest. Written only by accounts.policies.host_policy_update."""

    host = models.OneToOneField(
        User, on_delete=models.CASCADE, primary_key=True, related_name="booking_policy"
    )
    min_notice_minutes = models.IntegerField(default=0)
    max_horizon_days = models.IntegerField(null=True, blank=True)  # null: no limit
    cancellation_cutoff_minutes = models.IntegerField()
    max_active_bookings_per_guest = models.IntegerField(default=1)
    created_at = models.DateTimeField(editable=False)
    updated_at = models.DateTimeField(editable=False)

    class Meta:
        db_table = "host_policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    min_notice_minutes__gte=0, min_notice_minutes__lte=MIN_NOTICE_MINUTES_MAX
                ),
                name="host_policies_min_notice_range",
            ),
            models.CheckConstraint(
                condition=Q(max_horizon_days__isnull=True)
                | Q(
                    max_horizon_days__gte=MAX_HORIZON_DAYS_MIN,
                    max_horizon_days__lte=MAX_HORIZON_DAYS_MAX,
                ),
                name="host_policies_max_horizon_range",
            ),
            models.CheckConstraint(
                condition=Q(
                    cancellation_cutoff_minutes__gte=0,
                    cancellation_cutoff_minutes__lte=CANCELLATION_CUTOFF_MINUTES_MAX,
                ),
                name="host_policies_cancellation_cutoff_range",
            ),
            models.CheckConstraint(
                condition=Q(
                    max_active_bookings_per_guest__gte=MAX_ACTIVE_PER_GUEST_MIN,
                    max_active_bookings_per_guest__lte=MAX_ACTIVE_PER_GUEST_MAX,
                ),
                name="host_policies_max_active_range",
            ),
        ]
        verbose_name = "booking policy"
        verbose_name_plural = "booking policy"

    def __str__(self) -> str:
        return f"Booking policy of {self.host_id}"
