"""slot_quarters, the rollup of slots that analytics' utilisation reads, and the trigger
slots_rollup that keeps it exact.

The backfill runs after CREATE TRIGGER in the same transaction: the trigger's lock on slots waits
for every writer in flight and blocks new ones until commit, so each slot is counted exactly once,
by the backfill or by the trigger. The backfill writes stripe 0; only the sums mean anything.
"""

import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('slots', '0003_held_count'),
    ]

    operations = [
        migrations.CreateModel(
            name='SlotQuarter',
            fields=[
                ('pk', models.CompositePrimaryKey('bucket', 'stripe', blank=True, editable=False, primary_key=True, serialize=False)),
                ('bucket', models.DateTimeField()),
                ('stripe', models.SmallIntegerField()),
                ('capacity', models.BigIntegerField()),
                ('booked', models.BigIntegerField()),
            ],
            options={
                'db_table': 'slot_quarters',
            },
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='slot',
            trigger=pgtrigger.compiler.Trigger(name='slots_rollup', sql=pgtrigger.compiler.UpsertTriggerSql(declare='DECLARE writer_stripe integer; old_bucket timestamptz; new_bucket timestamptz;', func="\n    IF TG_OP = 'UPDATE' AND NEW.host_id <> OLD.host_id THEN\n        RAISE EXCEPTION 'a slot''s host never changes' USING ERRCODE = 'check_violation',\n            CONSTRAINT = 'slots_host_unchanged';\n    END IF;\n    writer_stripe := (pg_backend_pid() % 16);\n    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status <> 'CANCELLED' THEN\n        old_bucket := date_bin('15 minutes', OLD.start_time, TIMESTAMPTZ '2000-01-01 00:00:00+00');\n    END IF;\n    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status <> 'CANCELLED' THEN\n        new_bucket := date_bin('15 minutes', NEW.start_time, TIMESTAMPTZ '2000-01-01 00:00:00+00');\n    END IF;\n    IF old_bucket = new_bucket THEN\n        IF NEW.capacity <> OLD.capacity OR NEW.booked_count <> OLD.booked_count THEN\n            \n        INSERT INTO slot_quarters AS q (bucket, stripe, capacity, booked)\n        VALUES (new_bucket, writer_stripe, NEW.capacity - OLD.capacity, NEW.booked_count - OLD.booked_count)\n        ON CONFLICT (bucket, stripe) DO UPDATE\n           SET capacity = q.capacity + EXCLUDED.capacity, booked = q.booked + EXCLUDED.booked;\n        END IF;\n        RETURN NULL;\n    END IF;\n    IF old_bucket IS NOT NULL THEN\n        \n        INSERT INTO slot_quarters AS q (bucket, stripe, capacity, booked)\n        VALUES (old_bucket, writer_stripe, -OLD.capacity, -OLD.booked_count)\n        ON CONFLICT (bucket, stripe) DO UPDATE\n           SET capacity = q.capacity + EXCLUDED.capacity, booked = q.booked + EXCLUDED.booked;\n    END IF;\n    IF new_bucket IS NOT NULL THEN\n        \n        INSERT INTO slot_quarters AS q (bucket, stripe, capacity, booked)\n        VALUES (new_bucket, writer_stripe, NEW.capacity, NEW.booked_count)\n        ON CONFLICT (bucket, stripe) DO UPDATE\n           SET capacity = q.capacity + EXCLUDED.capacity, booked = q.booked + EXCLUDED.booked;\n    END IF;\n    RETURN NULL;\n", hash='119bccecbe7d5b3cea6ff2a98ab8c10b69f18227', operation='INSERT OR DELETE OR UPDATE OF "start_time", "capacity", "booked_count", "status", "host_id"', pgid='pgtrigger_slots_rollup_a9b95', table='slots', when='AFTER')),
        ),
        migrations.RunSQL(
            """
            INSERT INTO slot_quarters (bucket, stripe, capacity, booked)
            SELECT date_bin('15 minutes', start_time, TIMESTAMPTZ '2000-01-01 00:00:00+00'), 0,
                   sum(capacity), sum(booked_count)
              FROM slots WHERE status <> 'CANCELLED' GROUP BY 1
            """,
            migrations.RunSQL.noop,
        ),
    ]
