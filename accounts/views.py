"""User endpoints."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.auth import ApiAuthentication, has_staff_privileges, request_user, require_staff
from accounts.errors import EmailTakenError, UserNotFoundError
from accounts.policies import NOT_A_HOST_POLICY, host_policy_get, host_policy_update
from accounts.selectors import user_get, user_list
from accounts.serializers import (
    ApiTokenOut,
    HostPolicyIn,
    HostPolicyOut,
    UserCreatedOut,
    UserCreateIn,
    UserOut,
    UserPublicOut,
)
from accounts.services import api_token_rotate, user_register
from core.api.fields import parse_uuid, query_dict, validate_input
from core.api.schema import PAGE_PARAMETERS, errors, path_id, success
from core.api.viewsets import ApiViewSet, PageQuery, listed, ok, paginate
from core.errors import (
    LockTimeoutError,
    NotAHostError,
    NotStaffError,
    StaffTokenRequiredError,
    ValidationFailedError,
)


class UserViewSet(ApiViewSet):
    @extend_schema(
        summary="Register a user",
        description=(
            "Creates a user and returns its API token, shown only this once. Open to anyone "
            "unless the server restricts registration to staff. roles defaults to [GUEST]; "
            "timezone to UTC."
        ),
        request=UserCreateIn,
        responses={
            201: success(UserCreatedOut),
            **errors(EmailTakenError, NotStaffError, StaffTokenRequiredError, body=True),
        },
        auth=[],
    )
    def create(self, request: Request) -> Response:
        data = validate_input(UserCreateIn, request.data)
        user, issued = user_register(**data)
        return ok(UserCreatedOut((user, issued.token)).data, status=201)

    def get_authenticators(self) -> list[BaseAuthentication]:
        # Registration is public while it is open: credentials are then ignored entirely.
        # `self.request` is None while drf-spectacular builds the schema; it must not crash.
        request = getattr(self, "request", None)
        if request is not None and request.method == "POST" and settings.AUTH_OPEN_REGISTRATION:
            return []
        return [ApiAuthentication()]

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        super().initial(request, *args, **kwargs)
        if request.method == "POST" and not settings.AUTH_OPEN_REGISTRATION:
            require_staff(request)

    @extend_schema(
        summary="List users (staff)",
        description="Every user, paginated. Staff only, with an API token.",
        parameters=PAGE_PARAMETERS,
        responses={
            200: success(UserOut, many=True),
            **errors(NotStaffError, StaffTokenRequiredError, ValidationFailedError),
        },
    )
    def list(self, request: Request) -> Response:
        require_staff(request)
        query = validate_input(PageQuery, query_dict(request.query_params))
        users, meta = paginate(user_list(), page=query["page"], limit=query["limit"])
        return listed(UserOut(users, many=True).data, meta)


class CurrentUserViewSet(ApiViewSet):
    @extend_schema(
        summary="The caller",
        description="The user the credentials belong to.",
        responses={200: success(UserOut), **errors()},
    )
    def retrieve(self, request: Request) -> Response:
        return ok(UserOut(request_user(request)).data)

    @extend_schema(
        summary="Rotate the caller's API token; the old one stops working at once",
        description="Issues a new API token for the caller and returns it, shown only this once.",
        request=None,
        responses={200: success(ApiTokenOut), **errors(StaffTokenRequiredError)},
    )
    def rotate_token(self, request: Request) -> Response:
        user = request_user(request)
        if user.is_staff and not has_staff_privileges(request):
            raise StaffTokenRequiredError()
        return ok(ApiTokenOut(api_token_rotate(user_id=user.pk)).data)


class UserDetailViewSet(ApiViewSet):
    @extend_schema(
        summary="One user: full form for themself and staff, public form for others",
        description="Others see a user without the email address and staff flag.",
        parameters=[path_id("user_id", "user")],
        responses={200: success(UserOut), **errors(UserNotFoundError)},
    )
    def retrieve(self, request: Request, user_id: str) -> Response:
        user = user_get(user_id=parse_uuid(user_id))
        caller = request_user(request)
        if user.pk == caller.pk or has_staff_privileges(request):
            return ok(UserOut(user).data)
        return ok(UserPublicOut(user).data)


POLICY_DESCRIPTION = (
    "A host's booking rules: minimum notice, maximum horizon, cancellation cutoff and how many "
    "active bookings one guest may hold with the host. A host who never set a policy has the "
    "defaults (no notice, no horizon, the server's cancellation window, one booking per guest). "
    "The server-wide limit of active bookings per guest applies on top."
)


class CurrentUserPolicyViewSet(ApiViewSet):
    @extend_schema(
        summary="The caller's booking policy (HOST role)",
        description=POLICY_DESCRIPTION,
        responses={200: success(HostPolicyOut), **errors(NotAHostError)},
    )
    def retrieve(self, request: Request) -> Response:
        user = request_user(request)
        if not user.is_host:
            raise NotAHostError(NOT_A_HOST_POLICY)
        return ok(HostPolicyOut(host_policy_get(host_id=user.pk)).data)

    @extend_schema(
        summary="Replace the caller's booking policy (HOST role); omitted fields take defaults",
        description=POLICY_DESCRIPTION,
        request=HostPolicyIn,
        responses={
            200: success(HostPolicyOut),
            **errors(NotAHostError, LockTimeoutError, body=True),
        },
    )
    def update(self, request: Request) -> Response:
        user = request_user(request)
        if not user.is_host:
            raise NotAHostError(NOT_A_HOST_POLICY)
        data = validate_input(HostPolicyIn, request.data)
        policy = host_policy_update(
            host_id=user.pk,
            min_notice_minutes=data["minNoticeMinutes"],
            max_horizon_days=data["maxHorizonDays"],
            cancellation_cutoff_minutes=data["cancellationCutoffMinutes"],
            max_active_bookings_per_guest=data["maxActiveBookingsPerGuest"],
        )
        return ok(HostPolicyOut(policy).data)


class UserPolicyViewSet(ApiViewSet):
    @extend_schema(
        summary="A user's booking policy, as guests see it before booking",
        description=POLICY_DESCRIPTION,
        responses={200: success(HostPolicyOut), **errors(UserNotFoundError)},
    )
    def retrieve(self, request: Request, user_id: str) -> Response:
        user = user_get(user_id=parse_uuid(user_id))
        return ok(HostPolicyOut(host_policy_get(host_id=user.pk)).data)
