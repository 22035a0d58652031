"""docs/api.md is the reference of the schema the server serves: regenerate it with `make docs`."""

from __future__ import annotations

from pathlib import Path

from core.api.reference import current_reference

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_docs_api_md_matches_the_openapi_schema():
    assert DOCS.read_text(encoding="utf-8") == current_reference(), (
        "docs/api.md is stale: run `make docs`"
    )


def test_the_reference_names_every_operation_and_reason_of_the_schema():
    text = DOCS.read_text(encoding="utf-8")
    for heading in ("### `POST /api/bookings`", "### `DELETE /api/slots/{slot_id}`"):
        assert heading in text
    for reason in ("SLOT_NOT_AVAILABLE", "IDEMPOTENCY_KEY_REUSED", "MISSING_CREDENTIALS"):
        assert f"`{reason}`" in text
    assert "SPEC" not in text
    assert "§" not in text
