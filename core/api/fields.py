"""DRF fields that speak the contract's validation language.

DRF's own fields coerce ("1" becomes 1) and word their errors differently. These fields check JSON
types strictly and fail with the exact generic messages of the contract, so every serializer gets
them by declaring fields, never by formatting messages itself.
"""

from __future__ import annotations

import math
import re
import uuid
import zoneinfo
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from functools import cache
from typing import Any

from django_stubs_ext import StrOrPromise
from rest_framework import serializers

from core.db.instants import format_instant, parse_instant
from core.errors import ValidationFailedError

REQUIRED = "Required"
_BAD_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def json_type(value: object) -> str:
    """The JSON type name the messages use: string, number, boolean, null, array, object."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    return "object"


def parse_uuid(value: object) -> uuid.UUID | None:
    """A uuid in the 8-4-4-4-12 form (either case), or None: braces, urn: and bare hex are not."""
    if isinstance(value, str) and _UUID.fullmatch(value):
        return uuid.UUID(value)
    return None


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def parse_time_zone(value: object) -> zoneinfo.ZoneInfo | None:
    """The IANA zone named `value`, or None when the zone database does not know it."""
    if not isinstance(value, str) or value not in _zone_names():
        return None
    return zoneinfo.ZoneInfo(value)


class ContractField(serializers.Field):
    """Base: `Required` when absent, `Expected <type>, received null` for null."""

    expected = "string"

    def __init__(self, **kwargs: Any) -> None:
        messages: dict[str, StrOrPromise] = {
            "required": REQUIRED,
            "null": f"Expected {self.expected}, received null",
        }
        messages.update(kwargs.pop("error_messages", {}))
        super().__init__(error_messages=messages, **kwargs)

    def fail_type(self, value: object) -> None:
        raise serializers.ValidationError(f"Expected {self.expected}, received {json_type(value)}")

    def to_representation(self, value: Any) -> Any:
        return value


class StringField(ContractField):
    """A JSON string without NUL or lone surrogates; optionally trimmed and length-checked."""

    def __init__(
        self,
        *,
        trim: bool = False,
        min_length: int | None = None,
        max_length: int | None = None,
        min_message: str = "",
        max_message: str = "",
        **kwargs: Any,
    ) -> None:
        self.trim, self.min_length, self.max_length = trim, min_length, max_length
        self.min_message, self.max_message = min_message, max_message
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail_type(data)
        if _BAD_CHARACTERS.search(data):
            raise serializers.ValidationError("Invalid characters in string")
        value = data.strip() if self.trim else data
        if self.min_length is not None and len(value) < self.min_length:
            raise serializers.ValidationError(self.min_message)
        if self.max_length is not None and len(value) > self.max_length:
            raise serializers.ValidationError(self.max_message)
        return value


class EnumField(ContractField):
    """One of `choices`: `Invalid enum value. Expected 'A' | 'B', received 'x'`."""

    def __init__(self, choices: Sequence[str], **kwargs: Any) -> None:
        self.choices = tuple(choices)
        self.options = " | ".join(f"'{choice}'" for choice in self.choices)
        super().__init__(**kwargs)
        self.error_messages["null"] = f"Expected {self.options}, received null"

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError(
                f"Expected {self.options}, received {json_type(data)}"
            )
        if data not in self.choices:
            raise serializers.ValidationError(
                f"Invalid enum value. Expected {self.options}, received '{data}'"
            )
        return data


class UuidField(ContractField):
    """A uuid string, normalised to lowercase; `invalid` words the failure."""

    def __init__(self, *, invalid: str = "Invalid uuid", **kwargs: Any) -> None:
        self.invalid = invalid
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> uuid.UUID:
        if not isinstance(data, str):
            self.fail_type(data)
        parsed = parse_uuid(data)
        if parsed is None:
            raise serializers.ValidationError(self.invalid)
        return parsed

    def to_representation(self, value: Any) -> str:
        return str(value)


class InstantField(ContractField):
    """An instant: ISO 8601 with a zone, or epoch milliseconds where allowed. Every failure,
    absence included, is `Invalid date`.

    Request bodies also accept epoch milliseconds (`allow_number`); query strings do not.
    """

    def __init__(self, *, allow_number: bool = True, **kwargs: Any) -> None:
        self.allow_number = allow_number
        super().__init__(
            error_messages={"required": "Invalid date", "null": "Invalid date"}, **kwargs
        )

    def to_internal_value(self, data: Any) -> datetime:
        try:
            return parse_instant(data, allow_number=self.allow_number)
        except ValueError:
            raise serializers.ValidationError("Invalid date") from None

    def to_representation(self, value: Any) -> str:
        return format_instant(value)


class TimeZoneField(ContractField):
    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail_type(data)
        if parse_time_zone(data) is None:
            raise serializers.ValidationError("Invalid time zone")
        return data


class QueryIntegerField(ContractField):
    """A query-string integer read like the original (zod's coerce): empty means 0."""

    expected = "number"

    def __init__(self, *, min_value: int, max_value: int, **kwargs: Any) -> None:
        self.min_value, self.max_value = min_value, max_value
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        text = data.strip() if isinstance(data, str) else data
        try:
            number = float(text) if text != "" else 0.0
        except (TypeError, ValueError):
            number = math.nan
        if math.isnan(number):
            raise serializers.ValidationError("Expected number, received nan")
        # A number too large for a float (`1` and 400 zeros) is out of range, not a fraction.
        if not math.isinf(number) and not number.is_integer():
            raise serializers.ValidationError("Expected integer, received float")
        if number < self.min_value:
            raise serializers.ValidationError(
                f"Number must be greater than or equal to {self.min_value}"
            )
        if number > self.max_value:
            raise serializers.ValidationError(
                f"Number must be less than or equal to {self.max_value}"
            )
        return int(number)


class BodyIntegerField(ContractField):
    """A JSON integer within bounds (capacity, TTLs): strings are not numbers."""

    expected = "number"

    def __init__(self, *, min_value: int, max_value: int, **kwargs: Any) -> None:
        self.min_value, self.max_value = min_value, max_value
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail_type(data)
        if not math.isfinite(data) or not float(data).is_integer():
            raise serializers.ValidationError("Expected integer, received float")
        if data < self.min_value:
            raise serializers.ValidationError(
                f"Number must be greater than or equal to {self.min_value}"
            )
        if data > self.max_value:
            raise serializers.ValidationError(
                f"Number must be less than or equal to {self.max_value}"
            )
        return int(data)


# Running a serializer -----------------------------------------------------------------------------
def _details(errors: Any, path: str = "") -> list[dict[str, str]]:
    """Flatten DRF's nested error detail into the envelope's details, [{path, message}], one per
    field."""
    if isinstance(errors, Mapping):
        found: list[dict[str, str]] = []
        for key, value in errors.items():
            name = "" if key in ("non_field_errors", "__all__") else str(key)
            found.extend(_details(value, f"{path}.{name}" if path and name else path or name))
        return found
    if isinstance(errors, list):
        if errors and all(not isinstance(item, Mapping | list) for item in errors):
            return [{"path": path, "message": str(errors[0])}]
        found = []
        for item in errors:
            found.extend(_details(item, path))
        return found
    return [{"path": path, "message": str(errors)}]


def validate_input(
    serializer_class: type[serializers.Serializer],
    data: Any,
    *,
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Validate a body or query against `serializer_class`; raise VALIDATION_FAILED with details.

    A body that is not an object fails as a whole (path ""), as the original's zod did.
    """
    if not isinstance(data, Mapping):
        raise ValidationFailedError(
            details=[{"path": "", "message": f"Expected object, received {json_type(data)}"}]
        )
    serializer = serializer_class(data=data, context=context or {})
    if not serializer.is_valid():
        raise ValidationFailedError(details=_details(serializer.errors))
    return dict(serializer.validated_data)


def query_dict(params: Mapping[str, Any]) -> dict[str, Any]:
    """Query parameters as a plain dict; a repeated parameter keeps its last value."""
    getter = getattr(params, "getlist", None)
    if getter is None:
        return dict(params)
    return {key: getter(key)[-1] for key in params}


class ArrayField(ContractField):
    """A JSON array whose items `child` validates; failures name the item: `slots.3.endTime`."""

    expected = "array"

    def __init__(self, *, child: serializers.Field, **kwargs: Any) -> None:
        self.child = child
        super().__init__(**kwargs)
        # As DRF's ListField binds its child; the stub wants a serializer as parent.
        self.child.bind(field_name="", parent=self)  # type: ignore[arg-type]

    def to_internal_value(self, data: Any) -> list[Any]:
        if not isinstance(data, list):
            self.fail_type(data)
        values: list[Any] = []
        errors: dict[int, Any] = {}
        for index, item in enumerate(data):
            try:
                values.append(self.child.run_validation(item))
            except serializers.ValidationError as exc:
                errors[index] = exc.detail
        if errors:
            detail: Any = errors  # keyed by index, as DRF's ListField reports its items
            raise serializers.ValidationError(detail)
        return values


class BodyBooleanField(ContractField):
    """A JSON boolean: strings and numbers are not booleans."""

    expected = "boolean"

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail_type(data)
        return data


class LocalDateField(ContractField):
    """A calendar date `YYYY-MM-DD`."""

    def to_internal_value(self, data: Any) -> date:
        if not isinstance(data, str):
            self.fail_type(data)
        try:
            if len(data) != 10:
                raise ValueError(data)
            return date.fromisoformat(data)
        except ValueError:
            raise serializers.ValidationError("Invalid date; expected YYYY-MM-DD") from None

    def to_representation(self, value: Any) -> str:
        return value.isoformat()


class WallTimeField(ContractField):
    """A wall-clock time `HH:MM`."""

    def to_internal_value(self, data: Any) -> time:
        if not isinstance(data, str) or not re.fullmatch(r"\d\d:\d\d", data):
            raise serializers.ValidationError("Invalid time; expected HH:MM")
        try:
            return time.fromisoformat(data)
        except ValueError:
            raise serializers.ValidationError("Invalid time; expected HH:MM") from None

    def to_representation(self, value: Any) -> str:
        return f"{value:%H:%M}"
