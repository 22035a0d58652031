"""The trigger bookings_sync_slot is now declared on Booking (Meta.triggers, django-pgtrigger).

The hand-written trigger and function of migration 0002 are dropped and pgtrigger's copy, with
the same behaviour, is installed in the same transaction, so no booking is ever counted twice or
not at all. Reversing restores the hand-written trigger.
"""

import importlib

import pgtrigger.compiler
import pgtrigger.migrations

from django.db import migrations

hand_written = importlib.import_module("bookings.migrations.0002_bookings_sync_slot_trigger")


class Migration(migrations.Migration):

    dependencies = [
        ('bookings', '0005_idempotency_record_moves_to_its_app'),
    ]

    operations = [
        migrations.RunSQL(hand_written.DROP, hand_written.CREATE),
        pgtrigger.migrations.AddTrigger(
            model_name='booking',
            trigger=pgtrigger.compiler.Trigger(name='bookings_sync_slot', sql=pgtrigger.compiler.UpsertTriggerSql(func="\n    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'CONFIRMED'\n       AND (TG_OP = 'DELETE' OR NEW.status <> 'CONFIRMED' OR NEW.slot_id <> OLD.slot_id) THEN\n        UPDATE slots\n           SET booked_count = booked_count - 1,\n               status = CASE WHEN status = 'CANCELLED' THEN status ELSE 'AVAILABLE' END,\n               updated_at = date_trunc('milliseconds', clock_timestamp())\n         WHERE id = OLD.slot_id;\n    END IF;\n    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'CONFIRMED'\n       AND (TG_OP = 'INSERT' OR OLD.status <> 'CONFIRMED' OR NEW.slot_id <> OLD.slot_id) THEN\n        UPDATE slots\n           SET booked_count = booked_count + 1,\n               status = CASE\n                   WHEN status = 'CANCELLED' THEN status\n                   WHEN booked_count + 1 >= capacity THEN 'BOOKED'\n                   ELSE 'AVAILABLE' END,\n               updated_at = date_trunc('milliseconds', clock_timestamp())\n         WHERE id = NEW.slot_id;\n    END IF;\n    RETURN NULL;\n", hash='3d8d12950911e11e0101e14c933434018d0e7b87', operation='INSERT OR DELETE OR UPDATE OF "status", "slot_id"', pgid='pgtrigger_bookings_sync_slot_a5c6a', table='bookings', when='AFTER')),
        ),
    ]
