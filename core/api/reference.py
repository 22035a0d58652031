"""docs/api.md, the API reference for users, rendered from the OpenAPI schema the server serves.

`make docs` writes it (`python -m core.api.reference > docs/api.md`); a test fails when the file
and the schema disagree, so the reference cannot go stale. The conventions section is written
here by hand; everything per endpoint comes from the schema.
"""

from __future__ import annotations

import os
import sys
from typing import Any

CONVENTIONS = """\
## Conventions

- **Base path and format.** Every endpoint is under `/api` and answers with and without a
  trailing slash. Bodies are JSON (`application/json`; form-encoded bodies are accepted too),
  at most 1 MiB. Field names are camelCase.
- **Envelope.** A success is `{"success": true, "data": ...}`; a list adds
  `"meta": {"page", "limit", "total"}`. Every error, whatever its status, is
  `{"success": false, "error": {"code", "reason", "message", "details"?}}`: `code` is generic
  (one per HTTP status), `reason` is stable and specific (branch on it), `details` lists field
  errors as `[{"path", "message"}]` for `VALIDATION_ERROR`.
- **Authentication.** `Authorization: Bearer <token>` with the API token of the user (returned
  once at registration, rotated with `POST /api/users/me/token`), or the `x-user-id: <uuid>`
  header while the server allows it (`AUTH_ALLOW_USER_ID_HEADER`). Staff endpoints need a staff
  user, by default authenticated with a token. Public endpoints ignore credentials.
- **Instants.** Sent as ISO 8601 in UTC with milliseconds (`2026-03-01T09:00:00.000Z`). Input
  accepts `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM[:SS[.fff]]` with an optional `Z` or `±HH:MM` offset
  (no zone means UTC); every invalid instant fails with the message `Invalid date`.
- **Pagination.** `page` (1 to 1000000, default 1) and `limit` (1 to 100, default 20).
- **Idempotency.** `POST /api/slots`, `POST /api/bookings` and `DELETE /api/bookings/{id}` take an
  optional `Idempotency-Key` header (1 to 255 printable ASCII characters, scoped to the caller).
  A repeat with the same key and the same request replays the first answer byte for byte, with
  `Idempotent-Replayed: true`, for 24 hours; the same key with a different request is
  `422 IDEMPOTENCY_KEY_REUSED`, and one still running is `409 IDEMPOTENCY_KEY_IN_PROGRESS`.
- **Request ids.** Every response carries `X-Request-Id` (yours, if you sent a sane one).
- **Retries.** A `503` may carry `Retry-After` (seconds); retrying is then safe, with the same
  `Idempotency-Key` for writes.
"""

METHODS = ("get", "post", "put", "patch", "delete")


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return dict(components[_ref_name(schema["$ref"])])
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return {**_resolve(schema["allOf"][0], components), **schema, "allOf": None}
    return schema


def _type(schema: dict[str, Any], components: dict[str, Any]) -> str:
    if "$ref" in schema:
        target = components[_ref_name(schema["$ref"])]
        if "enum" in target:
            return " \\| ".join(f"`{value}`" for value in target["enum"])
        return f"[{_ref_name(schema['$ref'])}](#{_ref_name(schema['$ref']).lower()})"
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return _type(schema["allOf"][0], components)
    if "enum" in schema:
        return " \\| ".join(f"`{value}`" for value in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {_type(schema.get('items', {}), components)}"
    fmt = schema.get("format")
    text = f"{kind} ({fmt})" if fmt else str(kind)
    return f"{text}, nullable" if schema.get("nullable") else text


def _notes(schema: dict[str, Any]) -> str:
    notes = []
    if schema.get("description"):
        notes.append(" ".join(str(schema["description"]).split()))
    for key, label in (("minLength", "at least"), ("maxLength", "at most")):
        if key in schema:
            notes.append(f"{label} {schema[key]} characters")
    for key, label in (("minimum", "minimum"), ("maximum", "maximum")):
        if key in schema:
            notes.append(f"{label} {schema[key]}")
    if "default" in schema:
        notes.append(f"default `{schema['default']}`")
    return "; ".join(notes)


def _fields_table(schema: dict[str, Any], components: dict[str, Any]) -> list[str]:
    properties = schema.get("properties", {})
    if not properties:
        return ["(no fields)", ""]
    required = set(schema.get("required", []))
    lines = ["| field | type | required | notes |", "| --- | --- | --- | --- |"]
    for name, field in properties.items():
        mark = "yes" if name in required else "no"
        lines.append(f"| `{name}` | {_type(field, components)} | {mark} | {_notes(field)} |")
    return [*lines, ""]


def _body_schema(operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    media = content.get("application/json") or next(iter(content.values()), None)
    return media.get("schema") if media else None


def _success(operation: dict[str, Any], components: dict[str, Any]) -> list[str]:
    lines = []
    for status, response in sorted(operation.get("responses", {}).items()):
        if not status.startswith("2"):
            continue
        media = response.get("content", {}).get("application/json", {})
        envelope = _resolve(media.get("schema", {}), components)
        data = envelope.get("properties", {}).get("data")
        shape = _type(data, components) if data else "an object"
        listed = " with `meta`" if "meta" in envelope.get("properties", {}) else ""
        lines.append(f"**{status}**: `data` is {shape}{listed}.")
    return [*lines, ""] if lines else []


def _errors(operation: dict[str, Any]) -> list[str]:
    rows = []
    for status, response in sorted(operation.get("responses", {}).items()):
        if status.startswith("2"):
            continue
        description = str(response.get("description", ""))
        reasons = description.split(": ", 1)[1] if ": " in description else description
        codes = ", ".join(f"`{reason.strip()}`" for reason in reasons.split(",") if reason)
        rows.append(f"| {status} | {codes} |")
    if not rows:
        return []
    return ["| status | reasons |", "| --- | --- |", *rows, ""]


def _parameters(operation: dict[str, Any], components: dict[str, Any]) -> list[str]:
    parameters = operation.get("parameters", [])
    if not parameters:
        return []
    lines = ["| parameter | in | type | notes |", "| --- | --- | --- | --- |"]
    for parameter in parameters:
        notes = " ".join(str(parameter.get("description", "")).split())
        kind = _type(parameter.get("schema", {}), components)
        lines.append(f"| `{parameter['name']}` | {parameter['in']} | {kind} | {notes} |")
    return [*lines, ""]


def _display_path(path: str) -> str:
    return path.rstrip("/") or "/"


def render_reference(schema: dict[str, Any]) -> str:
    """The Markdown reference of an OpenAPI 3 schema as drf-spectacular produces it."""
    components = schema.get("components", {}).get("schemas", {})
    info = schema.get("info", {})
    out = [
        f"# {info.get('title', 'API')} {info.get('version', '')}".rstrip(),
        "",
        "<!-- Generated from the OpenAPI schema by `make docs`; do not edit by hand. -->",
        "",
        " ".join(str(info.get("description", "")).split()),
        "",
        "The same schema is served by a running server at `/api/schema` (YAML; `/docs/json` for",
        "JSON), with an interactive explorer at `/docs`.",
        "",
        CONVENTIONS,
        "## Endpoints",
        "",
    ]
    for path, operations in schema.get("paths", {}).items():
        for method in METHODS:
            operation = operations.get(method)
            if operation is None:
                continue
            out += [f"### `{method.upper()} {_display_path(path)}`", ""]
            out += [str(operation.get("summary", "")).strip(), ""]
            if operation.get("description"):
                out += [" ".join(str(operation["description"]).split()), ""]
            public = not operation.get("security")
            out += ["Public: credentials are ignored." if public else "Authenticated.", ""]
            out += _parameters(operation, components)
            body = _body_schema(operation)
            if body is not None:
                out += ["Request body:", ""]
                out += _fields_table(_resolve(body, components), components)
            out += _success(operation, components)
            out += _errors(operation)
    out += ["## Schemas", ""]
    for name, component in components.items():
        if name.endswith("Envelope") or "enum" in component or name.endswith("Request"):
            continue
        out += [f"### {name}", ""]
        if component.get("description"):
            out += [" ".join(str(component["description"]).split()), ""]
        out += _fields_table(component, components)
    return "\n".join(out).rstrip() + "\n"


def current_reference() -> str:
    """The reference of the schema this code serves (needs Django set up)."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return render_reference(schema)


def main() -> int:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "slotbooking.settings")
    django.setup()
    sys.stdout.write(current_reference())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
