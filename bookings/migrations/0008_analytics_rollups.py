"""booking_quarters and host_booking_days, the rollups that analytics reads, and the trigger
bookings_rollup that keeps them exact.

The backfill runs after CREATE TRIGGER in the same transaction: the trigger's lock on bookings
waits for every writer in flight and blocks new ones until commit, so each booking is counted
exactly once, by the backfill or by the trigger. The backfill writes stripe 0; only the sums
mean anything.
"""

import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('bookings', '0007_holds_and_waitlist'),
    ]

    operations = [
        migrations.CreateModel(
            name='BookingQuarter',
            fields=[
                ('pk', models.CompositePrimaryKey('bucket', 'stripe', blank=True, editable=False, primary_key=True, serialize=False)),
                ('bucket', models.DateTimeField()),
                ('stripe', models.SmallIntegerField()),
                ('total', models.BigIntegerField()),
                ('cancelled', models.BigIntegerField()),
            ],
            options={
                'db_table': 'booking_quarters',
            },
        ),
        migrations.CreateModel(
            name='HostBookingDay',
            fields=[
                ('pk', models.CompositePrimaryKey('day', 'host_id', blank=True, editable=False, primary_key=True, serialize=False)),
                ('day', models.DateField()),
                ('host_id', models.UUIDField()),
                ('confirmed', models.BigIntegerField()),
            ],
            options={
                'db_table': 'host_booking_days',
            },
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='booking',
            trigger=pgtrigger.compiler.Trigger(name='bookings_rollup', sql=pgtrigger.compiler.UpsertTriggerSql(declare='DECLARE writer_stripe integer; old_bucket timestamptz; new_bucket timestamptz; old_host uuid; new_host uuid;', func="\n    writer_stripe := (pg_backend_pid() % 16);\n    IF TG_OP IN ('UPDATE', 'DELETE') THEN\n        old_bucket := date_bin('15 minutes', OLD.created_at, TIMESTAMPTZ '2000-01-01 00:00:00+00');\n    END IF;\n    IF TG_OP IN ('INSERT', 'UPDATE') THEN\n        new_bucket := date_bin('15 minutes', NEW.created_at, TIMESTAMPTZ '2000-01-01 00:00:00+00');\n    END IF;\n    IF old_bucket = new_bucket THEN\n        IF NEW.status <> OLD.status THEN\n            \n        INSERT INTO booking_quarters AS q (bucket, stripe, total, cancelled)\n        VALUES (new_bucket, writer_stripe, 0, (NEW.status = 'CANCELLED')::int - (OLD.status = 'CANCELLED')::int)\n        ON CONFLICT (bucket, stripe) DO UPDATE\n           SET total = q.total + EXCLUDED.total, cancelled = q.cancelled + EXCLUDED.cancelled;\n        END IF;\n    ELSE\n        IF old_bucket IS NOT NULL THEN\n            \n        INSERT INTO booking_quarters AS q (bucket, stripe, total, cancelled)\n        VALUES (old_bucket, writer_stripe, -1, -(OLD.status = 'CANCELLED')::int)\n        ON CONFLICT (bucket, stripe) DO UPDATE\n           SET total = q.total + EXCLUDED.total, cancelled = q.cancelled + EXCLUDED.cancelled;\n        END IF;\n        IF new_bucket IS NOT NULL THEN\n            \n        INSERT INTO booking_quarters AS q (bucket, stripe, total, cancelled)\n        VALUES (new_bucket, writer_stripe, 1, (NEW.status = 'CANCELLED')::int)\n        ON CONFLICT (bucket, stripe) DO UPDATE\n           SET total = q.total + EXCLUDED.total, cancelled = q.cancelled + EXCLUDED.cancelled;\n        END IF;\n    END IF;\n\n    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'CONFIRMED' THEN\n        SELECT host_id INTO old_host FROM slots WHERE id = OLD.slot_id;\n    END IF;\n    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'CONFIRMED' THEN\n        IF old_host IS NOT NULL AND NEW.slot_id = OLD.slot_id THEN\n            new_host := old_host;\n        ELSE\n            SELECT host_id INTO new_host FROM slots WHERE id = NEW.slot_id;\n        END IF;\n    END IF;\n    IF old_host = new_host AND (OLD.created_at AT TIME ZONE 'UTC')::date\n                               = (NEW.created_at AT TIME ZONE 'UTC')::date THEN\n        RETURN NULL;\n    END IF;\n    IF old_host IS NOT NULL THEN\n        \n        INSERT INTO host_booking_days AS d (day, host_id, confirmed) VALUES ((OLD.created_at AT TIME ZONE 'UTC')::date, old_host, -1)\n        ON CONFLICT (day, host_id) DO UPDATE SET confirmed = d.confirmed + EXCLUDED.confirmed;\n    END IF;\n    IF new_host IS NOT NULL THEN\n        \n        INSERT INTO host_booking_days AS d (day, host_id, confirmed) VALUES ((NEW.created_at AT TIME ZONE 'UTC')::date, new_host, 1)\n        ON CONFLICT (day, host_id) DO UPDATE SET confirmed = d.confirmed + EXCLUDED.confirmed;\n    END IF;\n    RETURN NULL;\n", hash='5cbd300d2529eb86ce1cb232e10f3232e52ac170', operation='INSERT OR DELETE OR UPDATE OF "status", "slot_id", "created_at"', pgid='pgtrigger_bookings_rollup_1d193', table='bookings', when='AFTER')),
        ),
        migrations.RunSQL(
            """
            INSERT INTO booking_quarters (bucket, stripe, total, cancelled)
            SELECT date_bin('15 minutes', created_at, TIMESTAMPTZ '2000-01-01 00:00:00+00'), 0,
                   count(*), count(*) FILTER (WHERE status = 'CANCELLED')
              FROM bookings GROUP BY 1;
            INSERT INTO host_booking_days (day, host_id, confirmed)
            SELECT (b.created_at AT TIME ZONE 'UTC')::date, s.host_id, count(*)
              FROM bookings b JOIN slots s ON s.id = b.slot_id
             WHERE b.status = 'CONFIRMED' GROUP BY 1, 2;
            """,
            migrations.RunSQL.noop,
        ),
    ]
