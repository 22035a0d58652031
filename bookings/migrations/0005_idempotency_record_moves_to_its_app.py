"""IdempotencyRecord now belongs to the idempotency app (core.idempotency): drop it from this
app's state only. The table stays; idempotency 0001 adopts it."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0004_booking_events_append_only"),
        ("idempotency", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name="IdempotencyRecord")],
        ),
    ]
