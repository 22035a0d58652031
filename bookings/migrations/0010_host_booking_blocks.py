"""host_booking_blocks replaces host_booking_days: CONFIRMED bookings per host and block of 32
UTC days as running totals over the block's days, so a range of days reads at most two rows per
host and block instead of one per host and day.

The trigger is replaced first: DROP TRIGGER locks bookings against writers until commit, so
each booking is counted exactly once, by the backfill (last, after the new trigger) or by the
new trigger; nothing writes host_booking_days once it is dropped.
"""

import django.contrib.postgres.fields
import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('bookings', '0009_booking_rules_in_sql'),
    ]

    operations = [
        migrations.CreateModel(
            name='HostBookingBlock',
            fields=[
                ('pk', models.CompositePrimaryKey('block', 'host_id', blank=True, editable=False, primary_key=True, serialize=False)),
                ('block', models.DateField()),
                ('host_id', models.UUIDField()),
                ('cum', django.contrib.postgres.fields.ArrayField(base_field=models.IntegerField(), size=32)),
            ],
            options={
                'db_table': 'host_booking_blocks',
            },
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name='booking',
            name='bookings_rollup',
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='booking',
            trigger=pgtrigger.compiler.Trigger(name='bookings_rollup', sql=pgtrigger.compiler.UpsertTriggerSql(declare='DECLARE writer_stripe integer; old_bucket timestamptz; new_bucket timestamptz; old_host uuid; new_host uuid; day_at date; day_in_block integer;', func="\n    writer_stripe := (pg_backend_pid() % 16);\n    IF TG_OP IN ('UPDATE', 'DELETE') THEN\n        old_bucket := date_bin('15 minutes', OLD.created_at, TIMESTAMPTZ '2000-01-01 00:00:00+00');\n    END IF;\n    IF TG_OP IN ('INSERT', 'UPDATE') THEN\n        new_bucket := date_bin('15 minutes', NEW.created_at, TIMESTAMPTZ '2000-01-01 00:00:00+00');\n    END IF;\n    IF old_bucket = new_bucket THEN\n        IF NEW.status <> OLD.status THEN\n            \n        INSERT INTO booking_quarters AS q (bucket, stripe, total, cancelled)\n        VALUES (new_bucket, writer_stripe, 0, (NEW.status = 'CANCELLED')::int - (OLD.status = 'CANCELLED')::int)\n        ON CONFLICT (bucket, stripe) DO UPDATE\n           SET total = q.total + EXCLUDED.total, cancelled = q.cancelled + EXCLUDED.cancelled;\n        END IF;\n    ELSE\n        IF old_bucket IS NOT NULL THEN\n            \n        INSERT INTO booking_quarters AS q (bucket, stripe, total, cancelled)\n        VALUES (old_bucket, writer_stripe, -1, -(OLD.status = 'CANCELLED')::int)\n        ON CONFLICT (bucket, stripe) DO UPDATE\n           SET total = q.total + EXCLUDED.total, cancelled = q.cancelled + EXCLUDED.cancelled;\n        END IF;\n        IF new_bucket IS NOT NULL THEN\n            \n        INSERT INTO booking_quarters AS q (bucket, stripe, total, cancelled)\n        VALUES (new_bucket, writer_stripe, 1, (NEW.status = 'CANCELLED')::int)\n        ON CONFLICT (bucket, stripe) DO UPDATE\n           SET total = q.total + EXCLUDED.total, cancelled = q.cancelled + EXCLUDED.cancelled;\n        END IF;\n    END IF;\n\n    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'CONFIRMED' THEN\n        SELECT host_id INTO old_host FROM slots WHERE id = OLD.slot_id;\n    END IF;\n    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'CONFIRMED' THEN\n        IF old_host IS NOT NULL AND NEW.slot_id = OLD.slot_id THEN\n            new_host := old_host;\n        ELSE\n            SELECT host_id INTO new_host FROM slots WHERE id = NEW.slot_id;\n        END IF;\n    END IF;\n    IF old_host = new_host AND (OLD.created_at AT TIME ZONE 'UTC')::date\n                               = (NEW.created_at AT TIME ZONE 'UTC')::date THEN\n        RETURN NULL;\n    END IF;\n    IF old_host IS NOT NULL THEN\n        \n        day_at := (OLD.created_at AT TIME ZONE 'UTC')::date;\n        day_in_block := ((day_at - DATE '2000-01-01') % 32 + 32) % 32;\n        UPDATE host_booking_blocks AS b\n           SET cum = ARRAY(SELECT x + (i > day_in_block)::integer * (-1)\n                             FROM unnest(b.cum) WITH ORDINALITY AS u(x, i) ORDER BY i)\n         WHERE block = day_at - day_in_block AND host_id = old_host;\n        IF NOT FOUND THEN\n            INSERT INTO host_booking_blocks AS b (block, host_id, cum)\n            VALUES (day_at - day_in_block, old_host,\n                    array_fill(0, ARRAY[day_in_block])\n                    || array_fill(-1, ARRAY[32 - day_in_block]))\n            ON CONFLICT (block, host_id) DO UPDATE\n               SET cum = ARRAY(SELECT x + y\n                                 FROM unnest(b.cum, EXCLUDED.cum) WITH ORDINALITY AS u(x, y, i)\n                                ORDER BY i);\n        END IF;\n    END IF;\n    IF new_host IS NOT NULL THEN\n        \n        day_at := (NEW.created_at AT TIME ZONE 'UTC')::date;\n        day_in_block := ((day_at - DATE '2000-01-01') % 32 + 32) % 32;\n        UPDATE host_booking_blocks AS b\n           SET cum = ARRAY(SELECT x + (i > day_in_block)::integer * (1)\n                             FROM unnest(b.cum) WITH ORDINALITY AS u(x, i) ORDER BY i)\n         WHERE block = day_at - day_in_block AND host_id = new_host;\n        IF NOT FOUND THEN\n            INSERT INTO host_booking_blocks AS b (block, host_id, cum)\n            VALUES (day_at - day_in_block, new_host,\n                    array_fill(0, ARRAY[day_in_block])\n                    || array_fill(1, ARRAY[32 - day_in_block]))\n            ON CONFLICT (block, host_id) DO UPDATE\n               SET cum = ARRAY(SELECT x + y\n                                 FROM unnest(b.cum, EXCLUDED.cum) WITH ORDINALITY AS u(x, y, i)\n                                ORDER BY i);\n        END IF;\n    END IF;\n    RETURN NULL;\n", hash='d62dac37f950fd618b0ba6503773c5913b15c510', operation='INSERT OR DELETE OR UPDATE OF "status", "slot_id", "created_at"', pgid='pgtrigger_bookings_rollup_1d193', table='bookings', when='AFTER')),
        ),
        migrations.DeleteModel(
            name='HostBookingDay',
        ),
        migrations.RunSQL(
            """
            INSERT INTO host_booking_blocks (block, host_id, cum)
            WITH per_day AS (
                SELECT (b.created_at AT TIME ZONE 'UTC')::date AS day, s.host_id, count(*) AS n
                  FROM bookings b JOIN slots s ON s.id = b.slot_id
                 WHERE b.status = 'CONFIRMED' GROUP BY 1, 2),
            placed AS (
                SELECT day - ((day - DATE '2000-01-01') % 32 + 32) % 32 AS block, host_id,
                       ((day - DATE '2000-01-01') % 32 + 32) % 32 + 1 AS i, n
                  FROM per_day)
            SELECT block, host_id, array_agg(running::integer ORDER BY i)
              FROM (SELECT k.block, k.host_id, days.i,
                           sum(coalesce(p.n, 0)) OVER (PARTITION BY k.block, k.host_id
                                                       ORDER BY days.i) AS running
                      FROM (SELECT DISTINCT block, host_id FROM placed) AS k
                     CROSS JOIN generate_series(1, 32) AS days(i)
                      LEFT JOIN placed p
                        ON p.block = k.block AND p.host_id = k.host_id AND p.i = days.i
                   ) AS grid
             GROUP BY block, host_id;
            """,
            migrations.RunSQL.noop,
        ),
    ]
